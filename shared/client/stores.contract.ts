// The client stores' contract as plain cases, so that one list runs under bun:test (memory and file
// stores) and inside a real browser (IndexedDB). Knows nothing of any one store or test runner.
import { nameKey } from '../protocol/names.ts'
import type {
  ClientStores,
  GroupSnapshot,
  HistoryOwner,
  HistoryRecord,
  OutgoingRecord,
  StoredIdentity,
  TrustRecord,
} from './stores.ts'

export interface OpenedStores {
  /** Fresh, empty stores of their own. */
  readonly stores: ClientStores
  /** The same stores opened again, where they persist (a directory, a database); memory does not. */
  readonly reopen?: () => Promise<ClientStores>
}

export type OpenStores = () => Promise<OpenedStores>

export interface ContractCase {
  readonly name: string
  run(open: OpenStores): Promise<void>
}

/** Records every store suite writes and reads back. */
export const identity: StoredIdentity = {
  privateKey: 'MC4CAQAwBQYDK2VwBCIEI',
  publicKey: 'A'.repeat(43),
  createdAt: 1,
}
export const alice: TrustRecord = {
  name: 'Alice',
  identityKey: 'B'.repeat(43),
  firstSeen: 2,
  verified: false,
}
export const snapshot: GroupSnapshot = { groupId: 'AQID', lastSeq: 7, state: 'BAUG' }
export const owner: HistoryOwner = { name: 'Alice', identityKey: 'A'.repeat(43) }

/** A kept message; `n` tells them apart. The text carries what JSON and UTF-8 must survive. */
export function keptMessage(n: number): HistoryRecord {
  return {
    kind: 'message',
    id: `m${n}`,
    seq: n,
    at: 1_700_000_000_000 + n,
    from: n % 2 === 0 ? 'Alice' : 'bob',
    own: n % 2 === 0,
    text: `message ${n}: two\nlines, "quotes", émoji 🎉, a NUL \u0000 and a lone \ud800`,
  }
}
export const keptFile: HistoryRecord = {
  kind: 'file',
  id: 'f1',
  seq: 3,
  at: 1_700_000_000_003,
  from: 'bob',
  own: false,
  claimedBy: 'mallory',
  name: 'notes.txt',
  size: 5,
  truncated: false,
  sha256: 'a'.repeat(64),
  kept: 'aGVsbG8',
}

/** Own messages on their way: one not yet encrypted, one failed after it was sent. */
export const onItsWay: OutgoingRecord[] = [
  { id: 'o1', at: 1_700_000_000_010, state: 'pending', plaintext: 'AQID' },
  {
    id: 'o2',
    at: 1_700_000_000_011,
    state: 'failed',
    reason: 'rate_limited: slow down',
    plaintext: 'BAUG',
    made: { ciphertext: 'CQoL', groupId: 'AQID', epoch: 4 },
  },
]

/** JSON with sorted keys: stores may hand fields back in another order. */
function canonical(value: unknown): string {
  if (value === undefined) return 'undefined'
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1)))
      : item,
  )
}

function same(actual: unknown, expected: unknown, what: string): void {
  if (canonical(actual) !== canonical(expected)) {
    throw new Error(`${what}: expected ${canonical(expected)}, got ${canonical(actual)}`)
  }
}

/** Trust records in name order: a list's order is the store's own. */
function byName(records: readonly TrustRecord[]): TrustRecord[] {
  return [...records].sort((a, b) => (nameKey(a.name) < nameKey(b.name) ? -1 : 1))
}

export const CLIENT_STORES_CONTRACT: readonly ContractCase[] = [
  {
    name: 'hold nothing before anything is saved',
    async run(open) {
      const { stores } = await open()
      same(await stores.identity.load(), undefined, 'identity')
      same(await stores.trust.get('alice'), undefined, 'trust record')
      same(await stores.trust.list(), [], 'trust list')
      same(await stores.group.load(), undefined, 'group')
      await stores.group.clear()
      same(await stores.group.load(), undefined, 'group after clearing nothing')
    },
  },
  {
    name: 'give back the identity, trust records and group snapshot they were given',
    async run(open) {
      const { stores } = await open()
      await stores.identity.save(identity)
      await stores.trust.put(alice)
      await stores.group.save(snapshot)
      same(await stores.identity.load(), identity, 'identity')
      same(await stores.trust.get('Alice'), alice, 'trust record')
      same(await stores.trust.list(), [alice], 'trust list')
      same(await stores.group.load(), snapshot, 'group')
    },
  },
  {
    name: 'give everything back when opened again on the same place, where they persist',
    async run(open) {
      const { stores, reopen } = await open()
      if (!reopen) return
      await stores.identity.save(identity)
      await stores.trust.put(alice)
      await stores.group.save(snapshot)
      const again = await reopen()
      same(await again.identity.load(), identity, 'identity')
      same(await again.trust.list(), [alice], 'trust list')
      same(await again.group.load(), snapshot, 'group')
    },
  },
  {
    name: 'find a trust record by its name in any case and replace it on a later put',
    async run(open) {
      const { stores } = await open()
      await stores.trust.put(alice)
      const bob = { ...alice, name: 'Bob', identityKey: 'C'.repeat(43) }
      await stores.trust.put(bob)
      same(await stores.trust.get('ALICE'), alice, 'alice in capitals')
      const verified = { ...alice, name: 'alice', verified: true }
      await stores.trust.put(verified)
      same(await stores.trust.get('aLiCe'), verified, 'alice replaced')
      same(byName(await stores.trust.list()), [verified, bob], 'trust list')
    },
  },
  {
    name: 'keep peers whose names collide with object prototype keys',
    async run(open) {
      const { stores } = await open()
      const peers = ['constructor', 'Prototype', '__proto__'].map((name) => ({ ...alice, name }))
      for (const peer of peers) await stores.trust.put(peer)
      for (const peer of peers) same(await stores.trust.get(peer.name), peer, peer.name)
      same(await stores.trust.get('toString'), undefined, 'toString')
      same(byName(await stores.trust.list()), byName(peers), 'trust list')
    },
  },
  {
    name: 'do not let a caller change stored state by mutating what it loaded',
    async run(open) {
      const { stores } = await open()
      await stores.identity.save(identity)
      await stores.trust.put(alice)
      await stores.group.save(snapshot)
      const loadedIdentity = await stores.identity.load()
      const loadedRecord = await stores.trust.get('alice')
      const [listedRecord] = await stores.trust.list()
      const loadedSnapshot = await stores.group.load()
      if (!loadedIdentity || !loadedRecord || !listedRecord || !loadedSnapshot) {
        throw new Error('something saved was not loaded')
      }
      loadedIdentity.createdAt = 99
      loadedRecord.verified = true
      listedRecord.identityKey = 'C'.repeat(43)
      loadedSnapshot.lastSeq = 99
      same(await stores.identity.load(), identity, 'identity')
      same(await stores.trust.get('alice'), alice, 'trust record')
      same(await stores.group.load(), snapshot, 'group')
    },
  },
  {
    name: 'do not let a caller change stored state by mutating what it saved',
    async run(open) {
      const { stores } = await open()
      const savedIdentity = { ...identity }
      const savedRecord = { ...alice }
      const savedSnapshot = { ...snapshot }
      await stores.identity.save(savedIdentity)
      await stores.trust.put(savedRecord)
      await stores.group.save(savedSnapshot)
      savedIdentity.createdAt = 99
      savedRecord.verified = true
      savedSnapshot.lastSeq = 99
      same(await stores.identity.load(), identity, 'identity')
      same(await stores.trust.get('alice'), alice, 'trust record')
      same(await stores.group.load(), snapshot, 'group')
    },
  },
  {
    name: 'forget the group snapshot on clear but keep identity and trust',
    async run(open) {
      const { stores } = await open()
      await stores.identity.save(identity)
      await stores.trust.put(alice)
      await stores.group.save(snapshot)
      await stores.group.clear()
      same(await stores.group.load(), undefined, 'group')
      same(await stores.identity.load(), identity, 'identity')
      same(await stores.trust.list(), [alice], 'trust list')
    },
  },
  {
    name: 'end many saves in flight at once with the last one',
    async run(open) {
      const { stores } = await open()
      await Promise.all(
        Array.from({ length: 20 }, (_, lastSeq) => stores.group.save({ ...snapshot, lastSeq })),
      )
      same(await stores.group.load(), { ...snapshot, lastSeq: 19 }, 'group')
    },
  },
  {
    name: 'keep every record when many puts are in flight at once',
    async run(open) {
      const { stores } = await open()
      const peers = Array.from({ length: 20 }, (_, index) => ({ ...alice, name: `peer${index}` }))
      await Promise.all(peers.map((peer) => stores.trust.put(peer)))
      same(byName(await stores.trust.list()), byName(peers), 'trust list')
    },
  },
  {
    name: 'hold no history before any is kept',
    async run(open) {
      const { stores } = await open()
      same(await stores.history.load(owner), [], 'history')
      await stores.history.clear(owner)
      same(await stores.history.load(owner), [], 'history after clearing nothing')
    },
  },
  {
    name: 'give back the messages and files kept, in order, also when opened again',
    async run(open) {
      const { stores, reopen } = await open()
      const kept = [keptMessage(1), keptMessage(2), keptFile, keptMessage(4)]
      for (const record of kept) await stores.history.append(owner, record)
      same(await stores.history.load(owner), kept, 'history')
      if (!reopen) return
      same(await (await reopen()).history.load(owner), kept, 'history opened again')
    },
  },
  {
    name: "keep each name's and each identity's history apart",
    async run(open) {
      const { stores } = await open()
      const otherName = { ...owner, name: 'bob' }
      const otherKey = { ...owner, identityKey: 'B'.repeat(43) }
      await stores.history.append(owner, keptMessage(1))
      same(await stores.history.load(otherName), [], 'another name')
      same(await stores.history.load(otherKey), [], 'another identity')
      // Names are case-insensitive: the same person, the same history.
      same(await stores.history.load({ ...owner, name: 'ALICE' }), [keptMessage(1)], 'ALICE')
      await stores.history.append(otherName, keptMessage(2))
      await stores.history.append(otherKey, keptMessage(3))
      await stores.history.clear(owner)
      same(await stores.history.load(owner), [], 'cleared')
      same(await stores.history.load(otherName), [keptMessage(2)], 'another name after clear')
      same(await stores.history.load(otherKey), [keptMessage(3)], 'another identity after clear')
    },
  },
  {
    name: 'keep exactly the records a replace gives, and append after them',
    async run(open) {
      const { stores, reopen } = await open()
      for (const n of [1, 2, 3]) await stores.history.append(owner, keptMessage(n))
      await stores.history.replace(owner, [keptMessage(2), keptMessage(3)])
      await stores.history.append(owner, keptMessage(4))
      const expected = [keptMessage(2), keptMessage(3), keptMessage(4)]
      same(await stores.history.load(owner), expected, 'history')
      if (reopen) same(await (await reopen()).history.load(owner), expected, 'opened again')
      await stores.history.replace(owner, [])
      same(await stores.history.load(owner), [], 'replaced by nothing')
    },
  },
  {
    name: 'keep every record in call order when many appends are in flight at once',
    async run(open) {
      const { stores } = await open()
      const kept = Array.from({ length: 40 }, (_, n) => keptMessage(n))
      await Promise.all(kept.map((record) => stores.history.append(owner, record)))
      same(await stores.history.load(owner), kept, 'history')
    },
  },
  {
    name: 'keep the order of many records appended one by one, across loads that gather them',
    async run(open) {
      const { stores, reopen } = await open()
      const kept = Array.from({ length: 100 }, (_, n) => keptMessage(n))
      for (const record of kept) await stores.history.append(owner, record)
      same(await stores.history.load(owner), kept, 'first load')
      await stores.history.append(owner, keptMessage(100))
      const all = [...kept, keptMessage(100)]
      same(await stores.history.load(owner), all, 'second load')
      if (reopen) same(await (await reopen()).history.load(owner), all, 'opened again')
    },
  },
  {
    name: 'do not let a caller change kept history by mutating what it kept or loaded',
    async run(open) {
      const { stores } = await open()
      const appended = keptMessage(1)
      await stores.history.append(owner, appended)
      if (appended.kind === 'message') appended.text = 'changed after append'
      const [loaded] = await stores.history.load(owner)
      if (loaded?.kind !== 'message') throw new Error('the kept message was not loaded')
      loaded.text = 'changed after load'
      same(await stores.history.load(owner), [keptMessage(1)], 'history')
    },
  },
  {
    name: "keep each owner's messages on their way, apart from history, also when opened again",
    async run(open) {
      const { stores, reopen } = await open()
      same(await stores.history.loadOutgoing(owner), [], 'none yet')
      await stores.history.keepOutgoing(owner, onItsWay)
      same(await stores.history.loadOutgoing(owner), onItsWay, 'on their way')
      same(await stores.history.load(owner), [], 'history')
      const otherName = { ...owner, name: 'bob' }
      same(await stores.history.loadOutgoing(otherName), [], 'another name')
      same(await stores.history.loadOutgoing({ ...owner, name: 'ALICE' }), onItsWay, 'ALICE')
      // Clearing history is about what was shown: what is still being sent stays.
      await stores.history.clear(owner)
      same(await stores.history.loadOutgoing(owner), onItsWay, 'after clearing history')
      if (reopen) same(await (await reopen()).history.loadOutgoing(owner), onItsWay, 'reopened')
      await stores.history.keepOutgoing(owner, [onItsWay[1] as OutgoingRecord])
      same(await stores.history.loadOutgoing(owner), [onItsWay[1]], 'one left')
      await stores.history.keepOutgoing(owner, [])
      same(await stores.history.loadOutgoing(owner), [], 'none left')
      if (reopen) same(await (await reopen()).history.loadOutgoing(owner), [], 'none, reopened')
    },
  },
  {
    name: 'give each set of stores its own state',
    async run(open) {
      const one = await open()
      const two = await open()
      await one.stores.identity.save(identity)
      await one.stores.trust.put(alice)
      await one.stores.history.append(owner, keptMessage(1))
      same(await two.stores.identity.load(), undefined, 'the other identity')
      same(await two.stores.trust.list(), [], 'the other trust list')
      same(await two.stores.history.load(owner), [], 'the other history')
    },
  },
]
