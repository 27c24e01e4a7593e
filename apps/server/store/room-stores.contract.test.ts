// One contract for the room's stores, run against every implementation: the in-memory reference
// (room/memory-stores.ts), bun:sqlite and Redis. What only one of them does (files, reopening, two
// instances racing, Redis going away) is tested beside it.
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient } from 'bun'
import type { CommitDeliverFrame } from '../../../shared/protocol/frames.ts'
import { hasRedis, startRedis, type TestRedis } from '../../../tests/support/redis.ts'
import { createRedisStores } from '../cluster/redis-store.ts'
import { createMemoryStores } from '../room/memory-stores.ts'
import type { GroupRecord, RoomStores } from '../room/ports.ts'
import { openSqliteStore } from './sqlite-store.ts'

setDefaultTimeout(30_000)

const KEY_A = 'A'.repeat(43)
const KEY_B = 'B'.repeat(43)
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

/** Fresh, empty stores that keep at least `retention` log entries. */
type OpenStores = (retention: number) => Promise<RoomStores>

function storeContract(name: string, open: OpenStores, skip = false): void {
  describe.skipIf(skip)(`${name} stores, by the room stores' contract`, () => {
    test('start with an empty log: head 0, oldest 1, nothing to read', async () => {
      const { log } = await open(10)
      expect(await log.head()).toBe(0)
      expect(await log.oldest()).toBe(1)
      expect(await log.readAfter(0, 10)).toEqual([])
    })

    test('number appends from 1 and keep each frame as text stamped with its seq', async () => {
      const { log } = await open(10)
      expect(await log.append(app('AA'))).toEqual({
        seq: 1,
        text: '{"type":"app","from":"alice","at":5,"ciphertext":"AA","seq":1}',
      })
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

    test('bind a name to the first key that claims it, case-insensitively', async () => {
      const { identities } = await open(10)
      expect(await identities.claim('alice', KEY_A, 1)).toBe('new')
      expect(await identities.claim('ALICE', KEY_A, 2)).toBe('known')
      expect(await identities.claim('Alice', KEY_B, 3)).toBe('conflict')
      expect(await identities.claim('bob', KEY_A, 4)).toBe('new')
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
      const accepted = { seq: 1, text: JSON.stringify({ ...commit(0), seq: 1 }) }
      expect(await groups.acceptCommit(FOUNDED, next, commit(0))).toEqual(accepted)
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

storeContract('in-memory', async (retention) => createMemoryStores(retention))

storeContract('sqlite', async (retention) => {
  const store = openSqliteStore(':memory:', retention)
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
    return createRedisStores(client, retention)
  },
  redisMissing,
)
