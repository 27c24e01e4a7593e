// Client stores held in memory, for tests and for a client that must leave nothing on disk;
// knows nothing of files, sockets or MLS.
import { nameKey } from '../protocol/names.ts'
import { ownerId } from './history-seal.ts'
import type {
  ClientStores,
  GroupSnapshot,
  GroupStateStore,
  HistoryRecord,
  HistoryStore,
  IdentityStore,
  OutgoingRecord,
  StoredIdentity,
  TrustRecord,
  TrustStore,
} from './stores.ts'

export function createMemoryStores(): ClientStores {
  return {
    identity: createMemoryIdentityStore(),
    trust: createMemoryTrustStore(),
    group: createMemoryGroupStore(),
    history: createMemoryHistoryStore(),
  }
}

// Every value is cloned on the way in and out, as a disk store would: a caller that edits what
// it loaded (or what it saved) must not change the stored state behind the store's back.

function createMemoryIdentityStore(): IdentityStore {
  let stored: StoredIdentity | undefined
  return {
    async load() {
      return stored === undefined ? undefined : structuredClone(stored)
    },
    async save(identity) {
      stored = structuredClone(identity)
    },
  }
}

function createMemoryTrustStore(): TrustStore {
  // A Map, not an object: names such as `constructor` are valid and must not hit the prototype.
  const records = new Map<string, TrustRecord>()
  return {
    async get(name) {
      const record = records.get(nameKey(name))
      return record === undefined ? undefined : structuredClone(record)
    },
    async put(record) {
      records.set(nameKey(record.name), structuredClone(record))
    },
    async list() {
      return [...records.values()].map((record) => structuredClone(record))
    },
  }
}

function createMemoryGroupStore(): GroupStateStore {
  let stored: GroupSnapshot | undefined
  return {
    async load() {
      return stored === undefined ? undefined : structuredClone(stored)
    },
    async save(snapshot) {
      stored = structuredClone(snapshot)
    },
    async clear() {
      stored = undefined
    },
  }
}

function createMemoryHistoryStore(): HistoryStore {
  const byOwner = new Map<string, HistoryRecord[]>()
  const outgoing = new Map<string, OutgoingRecord[]>()
  return {
    async load(owner) {
      return structuredClone(byOwner.get(ownerId(owner)) ?? [])
    },
    async append(owner, record) {
      const id = ownerId(owner)
      const records = byOwner.get(id) ?? []
      records.push(structuredClone(record))
      byOwner.set(id, records)
    },
    async replace(owner, records) {
      byOwner.set(ownerId(owner), structuredClone([...records]))
    },
    async clear(owner) {
      byOwner.delete(ownerId(owner))
    },
    async loadOutgoing(owner) {
      return structuredClone(outgoing.get(ownerId(owner)) ?? [])
    },
    async keepOutgoing(owner, records) {
      outgoing.set(ownerId(owner), structuredClone([...records]))
    },
  }
}
