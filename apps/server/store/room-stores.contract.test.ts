// One contract for the room's stores, run against every implementation: the in-memory reference
// (room/memory-stores.ts), bun:sqlite and Redis. What only one of them does (files, reopening, two
// instances racing, Redis going away) is tested beside it.
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient } from 'bun'
import type { CommitDeliverFrame } from '../../../shared/protocol/frames.ts'
import {
  DEFAULT_LOG_RETENTION,
  type LogRetention,
  MAX_DEVICES,
} from '../../../shared/protocol/limits.ts'
import { hasRedis, startRedis, type TestRedis } from '../../../tests/support/redis.ts'
import { retained } from '../../../tests/support/retention.ts'
import { frameOf } from '../../../tests/support/wire.ts'
import { createRedisStores } from '../cluster/redis-store.ts'
import { createMemoryStores } from '../room/memory-stores.ts'
import type { GroupRecord, LinkResult, LoggedEntry, RoomStores } from '../room/ports.ts'

type LinkRefusal = Extract<LinkResult, { kind: 'refused' }>['reason']

import { openSqliteStore } from './sqlite-store.ts'

setDefaultTimeout(30_000)

const KEY_A = 'A'.repeat(43)
const KEY_B = 'B'.repeat(43)
const KEY_C = 'C'.repeat(43)
const KEY_D = 'D'.repeat(43)
const SIG_1 = '1'.repeat(86)
const SIG_2 = '2'.repeat(86)
/** Another key for each index: a name's many devices. */
const deviceKey = (index: number) => `${index}`.padStart(43, 'K')
const FOUNDED: GroupRecord = { groupId: 'G'.repeat(22), epoch: 0, roster: ['alice'], state: 'UzA' }

function app(ciphertext: string, at = 5) {
  return { type: 'app' as const, from: 'alice', at, ciphertext }
}

function commit(epoch: number): Omit<CommitDeliverFrame, 'seq'> {
  return {
    type: 'commit',
    from: 'alice',
    at: 7,
    epoch,
    commit: 'AAAA',
    adds: [{ name: 'bob', identityKey: KEY_B }],
    removes: [],
  }
}

/** Fresh, empty stores that keep at least `retention` log entries (or the bounds given). */
type OpenStores = (retention: number | LogRetention) => Promise<RoomStores>

/**
 * What an entry weighs in its store, which retention by bytes counts: the frame as sent, except
 * in Redis, which keeps it as JSON (a script stamps the sequence number into it).
 */
type StoredSize = (entry: LoggedEntry) => number
const wireSize: StoredSize = (entry) => entry.wire.length
const jsonSize: StoredSize = (entry) => JSON.stringify(frameOf(entry.wire)).length

function storeContract(name: string, open: OpenStores, skip = false, sizeOf = wireSize): void {
  describe.skipIf(skip)(`${name} stores, by the room stores' contract`, () => {
    test('start with an empty log: head 0, oldest 1, nothing to read', async () => {
      const { log } = await open(10)
      expect(await log.head()).toBe(0)
      expect(await log.oldest()).toBe(1)
      expect(await log.readAfter(0, 10)).toEqual([])
    })

    test('number appends from 1 and keep each frame as sent, stamped with its seq', async () => {
      const { log } = await open(10)
      const first = await log.append(app('AQID'))
      expect(first.seq).toBe(1)
      expect(frameOf(first.wire)).toEqual({ ...app('AQID'), seq: 1 })
      expect(await log.readAfter(0, 1)).toEqual([first])
      expect(await log.append(app('BB'))).toMatchObject({ seq: 2 })
      expect(await log.head()).toBe(2)
      expect(await log.oldest()).toBe(1)
    })

    test('answer every append with a promise, and a turn’s appends in sequence order', async () => {
      const { log } = await open(10)
      const appends = ['AA', 'BB', 'CC'].map((ciphertext) => log.append(app(ciphertext)))
      for (const append of appends) expect(append).toBeInstanceOf(Promise)
      const settled: number[] = []
      await Promise.all(appends.map((append) => append.then((entry) => settled.push(entry.seq))))
      expect(settled).toEqual([1, 2, 3])
    })

    test('read the entries after a sequence number, oldest first, at most the limit', async () => {
      const { log } = await open(10)
      const written = await Promise.all(['AA', 'BB', 'CC'].map((text) => log.append(app(text))))
      expect(await log.readAfter(0, 10)).toEqual(written)
      expect(await log.readAfter(1, 10)).toEqual(written.slice(1))
      expect(await log.readAfter(0, 2)).toEqual(written.slice(0, 2))
      expect(await log.readAfter(3, 10)).toEqual([])
    })

    test('keep at least the retention, and say where the log now starts', async () => {
      const retention = 5
      const { log } = await open(retention)
      await Promise.all(Array.from({ length: 40 }, (_, index) => log.append(app('AA', index))))
      expect(await log.head()).toBe(40)
      const oldest = await log.oldest()
      expect(oldest).toBeGreaterThanOrEqual(1)
      expect(oldest).toBeLessThanOrEqual(40 - retention + 1)
      const kept = await log.readAfter(oldest - 1, 100)
      expect(kept.map((entry) => entry.seq)).toEqual(
        Array.from({ length: 40 - oldest + 1 }, (_, index) => oldest + index),
      )
    })

    test('keep the log within its bytes, oldest out first, and read a replay by bytes', async () => {
      const bytes = 20_000
      const { log } = await open({ ...DEFAULT_LOG_RETENTION, bytes })
      const big = 'A'.repeat(1000)
      const written = await Promise.all(Array.from({ length: 200 }, () => log.append(app(big))))
      const size = sizeOf(written[0] as LoggedEntry)
      const oldest = await log.oldest()
      const kept = await log.readAfter(oldest - 1, 1000)
      const held = kept.reduce((sum, entry) => sum + sizeOf(entry), 0)
      // At least the bound, at most the bound and the slack a store prunes in (a sixteenth).
      expect(held).toBeGreaterThanOrEqual(bytes - size)
      expect(held).toBeLessThanOrEqual(bytes + bytes / 16 + size)
      expect(kept.at(-1)?.seq).toBe(200)
      // A read by bytes stops at the budget, but always hands over one entry.
      const three = kept.slice(0, 3).reduce((sum, entry) => sum + sizeOf(entry), 0)
      expect((await log.readAfter(oldest - 1, 1000, three)).length).toBe(3)
      expect((await log.readAfter(oldest - 1, 1000, 1)).length).toBe(1)
    })

    test('drop entries older than the age kept, by the time of the newest', async () => {
      const day = 24 * 3_600_000
      const { log } = await open({ ...DEFAULT_LOG_RETENTION, ageMs: day })
      await Promise.all(Array.from({ length: 5 }, (_, index) => log.append(app('AA', index))))
      await log.append(app('BB', 2 * day))
      expect(await log.oldest()).toBe(6)
      expect((await log.readAfter(0, 10)).map((entry) => entry.seq)).toEqual([6])
    })

    test('bind a name to the first key that claims it, case-insensitively', async () => {
      const { identities } = await open(10)
      expect(await identities.claim('alice', KEY_A, 1)).toBe('new')
      expect(await identities.claim('ALICE', KEY_A, 2)).toBe('known')
      expect(await identities.claim('Alice', KEY_B, 3)).toBe('conflict')
      expect(await identities.claim('bob', KEY_A, 4)).toBe('new')
    })

    test('refuse a name that looks like a bound one, to another key and to its own', async () => {
      const { identities } = await open(10)
      expect(await identities.claim('alice', KEY_A, 1)).toBe('new')
      for (const name of ['aIice', 'a1ice', 'ALLCE', 'alice_', 'a-lice']) {
        expect(await identities.claim(name, KEY_B, 2)).toBe('confusable')
      }
      expect(await identities.claim('a1ice', KEY_A, 2)).toBe('confusable')
      expect(await identities.claim('rnallory', KEY_B, 3)).toBe('new')
      expect(await identities.claim('mallory', KEY_A, 4)).toBe('confusable')
      expect(await identities.claim('alicia', KEY_B, 5)).toBe('new')
    })

    test('bind nothing when a claim may not bind, yet know a name the key holds', async () => {
      const { identities } = await open(10)
      expect(await identities.claim('alice', KEY_A, 1)).toBe('new')
      const held = { mayBind: false }
      expect(await identities.claim('bob', KEY_A, 2, held)).toBe('limited')
      expect(await identities.claim('Alice', KEY_A, 2, held)).toBe('known')
      expect(await identities.claim('alice', KEY_B, 2, held)).toBe('conflict')
      expect(await identities.claim('aIice', KEY_B, 2, held)).toBe('confusable')
      expect(await identities.claim('bob', KEY_B, 3)).toBe('new')
    })

    test('free a binding never confirmed once it is older than unusedBefore, with its look', async () => {
      const { identities } = await open(10)
      const DAY = 86_400_000
      expect(await identities.claim('alice', KEY_A, 0)).toBe('new')
      expect(await identities.claim('mallory', KEY_A, DAY)).toBe('new')
      // Made at exactly the cut-off, a binding is kept; a millisecond before it, it lapses.
      const atCutOff = { unusedBefore: 0 }
      expect(await identities.claim('alice', KEY_B, 30 * DAY, atCutOff)).toBe('conflict')
      const past = { unusedBefore: 1 }
      expect(await identities.claim('aIice', KEY_B, 30 * DAY + 1, past)).toBe('new')
      expect(await identities.claim('alice', KEY_A, 30 * DAY + 1, past)).toBe('confusable')
      expect(await identities.claim('mallory', KEY_A, 30 * DAY + 1, past)).toBe('known')
      // A lapsed name is the claimant's own again only as a new binding.
      expect(await identities.claim('mallory', KEY_A, 32 * DAY, { unusedBefore: 2 * DAY })).toBe(
        'new',
      )
    })

    test('keep a confirmed binding however old, and confirm only the member’s own key', async () => {
      const { identities } = await open(10)
      expect(await identities.claim('alice', KEY_A, 0)).toBe('new')
      expect(await identities.claim('bob', KEY_A, 0)).toBe('new')
      await identities.confirm(
        [
          { name: 'Alice', identityKey: KEY_A },
          { name: 'bob', identityKey: KEY_B },
          { name: 'nobody', identityKey: KEY_B },
        ],
        5,
      )
      await identities.confirm([], 6)
      const later = { unusedBefore: 365 * 86_400_000 }
      expect(await identities.claim('alice', KEY_B, 366 * 86_400_000, later)).toBe('conflict')
      expect(await identities.claim('bob', KEY_B, 366 * 86_400_000, later)).toBe('new')
      expect(await identities.claim('nobody', KEY_B, 366 * 86_400_000, later)).toBe('new')
    })

    test('free the lapsed bindings on a claim, not only the one asked for', async () => {
      const { identities } = await open(10)
      const names = Array.from({ length: 100 }, (_, index) => `squat${index}`)
      for (const [index, name] of names.entries()) await identities.claim(name, KEY_A, index)
      expect(await identities.claim('carol', KEY_B, 1000, { unusedBefore: 1000 })).toBe('new')
      for (const name of names) {
        expect(await identities.claim(name, KEY_B, 1001, { mayBind: false })).toBe('limited')
      }
    })

    test('list every binding with its spelling, when it was bound and when first used', async () => {
      const { identities } = await open(10)
      await identities.claim('Alice', KEY_A, 1)
      await identities.claim('bob', KEY_B, 2)
      await identities.confirm([{ name: 'alice', identityKey: KEY_A }], 3)
      const listed = [...(await identities.bindings())].sort((a, b) => a.boundAt - b.boundAt)
      expect(listed).toEqual([
        { name: 'Alice', identityKey: KEY_A, boundAt: 1, confirmedAt: 3 },
        { name: 'bob', identityKey: KEY_B, boundAt: 2, confirmedAt: null },
      ])
    })

    test('release a name, look-alikes included, for the next key; only a bound one', async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      await identities.confirm([{ name: 'alice', identityKey: KEY_A }], 2)
      expect(await identities.release('ALICE')).toBe(true)
      expect(await identities.release('alice')).toBe(false)
      expect(await identities.bindings()).toEqual([])
      expect(await identities.claim('aIice', KEY_B, 3)).toBe('new')
    })

    test('ban the key a name is bound to, and unban it by that name', async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      expect(await identities.ban('nobody', 2)).toBeNull()
      expect(await identities.ban('Alice', 2)).toBe(KEY_A)
      expect(await identities.isBanned(KEY_A)).toBe(true)
      expect(await identities.isBanned(KEY_B)).toBe(false)
      // Released, the name goes to another key; the ban stays with the key that held it.
      await identities.release('alice')
      await identities.claim('alice', KEY_B, 3)
      expect(await identities.isBanned(KEY_A)).toBe(true)
      expect(await identities.unban('bob')).toBe(false)
      expect(await identities.unban('ALICE')).toBe(true)
      expect(await identities.isBanned(KEY_A)).toBe(false)
      expect(await identities.unban('alice')).toBe(false)
    })

    test('link devices to a name: known as it, each with its approvals up to the name key', async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      const byA = { by: KEY_A, signature: SIG_1 }
      expect(await identities.linkDevice('Alice', KEY_B, byA, 2)).toEqual({
        kind: 'linked',
        links: [byA],
      })
      const byB = { by: KEY_B, signature: SIG_2 }
      expect(await identities.linkDevice('alice', KEY_C, byB, 3)).toEqual({
        kind: 'linked',
        links: [byB, byA],
      })
      expect(await identities.claim('ALICE', KEY_B, 4)).toBe('known')
      expect(await identities.claim('alice', KEY_C, 4)).toBe('known')
      expect(await identities.devices('alice')).toEqual([
        { identityKey: KEY_A, links: [], linkedAt: 1 },
        { identityKey: KEY_B, links: [byA], linkedAt: 2 },
        { identityKey: KEY_C, links: [byB, byA], linkedAt: 3 },
      ])
      expect(await identities.devices('bob')).toEqual([])
    })

    test('refuse a device approved by a stranger, for an unbound name, or a key in use', async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      await identities.claim('bob', KEY_B, 1)
      const byStranger = { by: KEY_D, signature: SIG_1 }
      const refused = (reason: LinkRefusal) => ({ kind: 'refused' as const, reason })
      expect(await identities.linkDevice('alice', KEY_C, byStranger, 2)).toEqual(
        refused('not_device'),
      )
      expect(await identities.linkDevice('carol', KEY_C, byStranger, 2)).toEqual(refused('unbound'))
      const byA = { by: KEY_A, signature: SIG_1 }
      expect(await identities.linkDevice('alice', KEY_B, byA, 2)).toEqual(refused('taken'))
      expect(await identities.claim('alice', KEY_C, 3)).toBe('conflict')
    })

    // Each link reads its name's devices, checks the key is free and writes: two at once, for two
    // names, must not both find it free.
    test('link one key to two names at once: one gets it, the other is told it is taken', async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      await identities.claim('bob', KEY_B, 1)
      const results = await Promise.all([
        identities.linkDevice('alice', KEY_C, { by: KEY_A, signature: SIG_1 }, 2),
        identities.linkDevice('bob', KEY_C, { by: KEY_B, signature: SIG_2 }, 2),
      ])
      expect(results.map((result) => result.kind).sort()).toEqual(['linked', 'refused'])
      expect(results.find((result) => result.kind === 'refused')).toEqual({
        kind: 'refused',
        reason: 'taken',
      })
      const holders = [...(await identities.devices('alice')), ...(await identities.devices('bob'))]
      expect(holders.filter((device) => device.identityKey === KEY_C)).toHaveLength(1)
    })

    test('count a name as used when one of its linked devices is in the group', async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      await identities.linkDevice('alice', KEY_B, { by: KEY_A, signature: SIG_1 }, 2)
      await identities.confirm([{ name: 'alice', identityKey: KEY_B }], 3)
      await identities.confirm([{ name: 'alice', identityKey: KEY_C }], 4)
      expect((await identities.bindings())[0]?.confirmedAt).toBe(3)
      // Used, it does not lapse however old it is.
      expect(await identities.claim('carol', KEY_C, 100, { unusedBefore: 50 })).toBe('new')
      expect(await identities.claim('alice', KEY_B, 101)).toBe('known')
    })

    test('forget the devices of a name that lapsed unused: their keys are free again', async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      await identities.linkDevice('alice', KEY_B, { by: KEY_A, signature: SIG_1 }, 2)
      // alice's binding was never used in the group: it lapses on the next claim.
      expect(await identities.claim('carol', KEY_C, 100, { unusedBefore: 50 })).toBe('new')
      expect(await identities.devices('alice')).toEqual([])
      await identities.claim('dave', KEY_D, 101)
      expect(
        await identities.linkDevice('dave', KEY_B, { by: KEY_D, signature: SIG_2 }, 102),
      ).toEqual({
        kind: 'linked',
        links: [{ by: KEY_D, signature: SIG_2 }],
      })
    })

    test(`hold at most ${MAX_DEVICES} devices to a name, its own key included`, async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      const byA = { by: KEY_A, signature: SIG_1 }
      for (let index = 1; index < MAX_DEVICES; index += 1) {
        const linked = await identities.linkDevice('alice', deviceKey(index), byA, 2)
        expect(linked.kind).toBe('linked')
      }
      expect(await identities.linkDevice('alice', deviceKey(MAX_DEVICES), byA, 2)).toEqual({
        kind: 'refused',
        reason: 'limit',
      })
    })

    test('unlink a device, ban every device with the name, forget them when it is released', async () => {
      const { identities } = await open(10)
      await identities.claim('alice', KEY_A, 1)
      const byA = { by: KEY_A, signature: SIG_1 }
      await identities.linkDevice('alice', KEY_B, byA, 2)
      await identities.linkDevice('alice', KEY_C, byA, 2)
      expect(await identities.unlinkDevice('alice', KEY_A)).toBe(false)
      expect(await identities.unlinkDevice('bob', KEY_B)).toBe(false)
      expect(await identities.wasUnlinked('alice', KEY_B)).toBe(false)
      expect(await identities.unlinkDevice('Alice', KEY_B)).toBe(true)
      expect(await identities.claim('alice', KEY_B, 3)).toBe('conflict')
      expect(await identities.wasUnlinked('ALICE', KEY_B)).toBe(true)
      expect(await identities.wasUnlinked('bob', KEY_B)).toBe(false)
      // Linked again, it is a device again and no longer counts as unlinked.
      await identities.linkDevice('alice', KEY_B, byA, 3)
      expect(await identities.wasUnlinked('alice', KEY_B)).toBe(false)
      await identities.unlinkDevice('alice', KEY_B)
      expect(await identities.ban('alice', 4)).toBe(KEY_A)
      expect(await identities.isBanned(KEY_C)).toBe(true)
      expect(await identities.isBanned(KEY_B)).toBe(false)
      await identities.release('alice')
      expect(await identities.devices('alice')).toEqual([])
      // The name's next key starts with no devices: the old ones are not its.
      await identities.claim('alice', KEY_D, 5)
      expect(await identities.claim('alice', KEY_C, 5)).toBe('conflict')
    })

    test('give an invite to one taker, for its name only, before it expires', async () => {
      const { identities } = await open(10)
      const invite = { codeDigest: 'D'.repeat(43), name: 'Carol', expiresAt: 100 }
      await identities.addInvite(invite)
      expect(await identities.takeInvite('E'.repeat(43), 'carol', 1)).toBeNull()
      expect(await identities.takeInvite(invite.codeDigest, 'dave', 1)).toBeNull()
      const taken = await Promise.all([
        identities.takeInvite(invite.codeDigest, 'CAROL', 99),
        identities.takeInvite(invite.codeDigest, 'carol', 99),
      ])
      expect(taken.filter((one) => one !== null)).toEqual([invite])
      expect(await identities.takeInvite(invite.codeDigest, 'carol', 99)).toBeNull()
      // Put back (its claim failed), it can be taken again; expired, it is gone for good.
      await identities.addInvite(invite)
      expect(await identities.takeInvite(invite.codeDigest, 'carol', 99)).toEqual(invite)
      await identities.addInvite(invite)
      expect(await identities.takeInvite(invite.codeDigest, 'carol', 100)).toBeNull()
      expect(await identities.takeInvite(invite.codeDigest, 'carol', 50)).toBeNull()
    })

    test('hold no group until one is founded, and found only the first', async () => {
      const { groups } = await open(10)
      expect(await groups.load()).toBeNull()
      expect(await groups.found(FOUNDED)).toBe(true)
      expect(await groups.found({ ...FOUNDED, groupId: 'H'.repeat(22) })).toBe(false)
      expect(await groups.load()).toEqual(FOUNDED)
    })

    test('move the group on only from the expected epoch, logging the commit with it', async () => {
      const { groups, log } = await open(10)
      await groups.found(FOUNDED)
      const next = { ...FOUNDED, epoch: 1, roster: ['alice', 'bob'], state: 'UzE' }
      const accepted = await groups.acceptCommit(FOUNDED, next, commit(0))
      if (accepted === 'stale') throw new Error('the first commit at its epoch was refused')
      expect(accepted.seq).toBe(1)
      expect(frameOf(accepted.wire)).toEqual({ ...commit(0), seq: 1 })
      expect(await groups.acceptCommit(FOUNDED, { ...next, state: 'WA' }, commit(0))).toBe('stale')
      expect(await groups.load()).toEqual(next)
      expect(await log.readAfter(0, 10)).toEqual([accepted])
      expect(await log.head()).toBe(1)
    })

    test('refuse a commit while no group is stored, and log nothing', async () => {
      const { groups, log } = await open(10)
      expect(await groups.acceptCommit(FOUNDED, { ...FOUNDED, epoch: 1 }, commit(0))).toBe('stale')
      expect(await log.head()).toBe(0)
    })

    test('log a commit after the messages appended before it', async () => {
      const { groups, log } = await open(10)
      await groups.found(FOUNDED)
      const messages = [log.append(app('AA')), log.append(app('BB'))]
      const accepted = await groups.acceptCommit(FOUNDED, { ...FOUNDED, epoch: 1 }, commit(0))
      expect((await Promise.all(messages)).map((entry) => entry.seq)).toEqual([1, 2])
      expect(accepted).toMatchObject({ seq: 3 })
      expect((await log.readAfter(0, 10)).map((entry) => entry.seq)).toEqual([1, 2, 3])
    })

    test('dissolve only the group named, so a new one can be founded', async () => {
      const { groups } = await open(10)
      await groups.found(FOUNDED)
      await groups.dissolve('H'.repeat(22))
      expect(await groups.load()).toEqual(FOUNDED)
      await groups.dissolve(FOUNDED.groupId)
      expect(await groups.load()).toBeNull()
      const refounded = { ...FOUNDED, groupId: 'H'.repeat(22), roster: ['carol'] }
      expect(await groups.found(refounded)).toBe(true)
      expect(await groups.load()).toEqual(refounded)
    })

    test('keep the group apart from the objects it was given and gave back', async () => {
      const { groups } = await open(10)
      const record = { ...FOUNDED, roster: ['alice'] }
      await groups.found(record)
      record.roster.push('mallory')
      const loaded = await groups.load()
      loaded?.roster.push('eve')
      expect(await groups.load()).toEqual(FOUNDED)
    })
  })
}

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

storeContract('in-memory', async (retention) => createMemoryStores(retained(retention)))

storeContract('sqlite', async (retention) => {
  const store = openSqliteStore(':memory:', retained(retention))
  cleanups.push(() => store.close())
  return store
})

const redisMissing = !hasRedis()
if (redisMissing && process.env.CHATBOX_REQUIRE_REDIS === '1') {
  throw new Error('redis-server is not installed; .ci/run installs the Debian package')
}
let redis: TestRedis | undefined
beforeAll(async () => {
  if (!redisMissing) redis = await startRedis()
})
afterAll(async () => {
  await redis?.[Symbol.asyncDispose]()
})

storeContract(
  'Redis',
  async (retention) => {
    if (!redis) throw new Error('no test Redis')
    const client = new RedisClient(redis.url)
    cleanups.push(() => client.close())
    await client.send('FLUSHALL', [])
    return createRedisStores(client, retained(retention))
  },
  redisMissing,
  jsonSize,
)
