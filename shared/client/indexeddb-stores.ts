// Client stores in the browser's IndexedDB, one database per chat name (the browser already keeps
// one set per server origin); knows nothing of sockets, MLS or the page, and never trusts what it
// reads back.
import * as v from 'valibot'
import { nameKey } from '../protocol/names.ts'
import { createIndexedDbHistoryStore, upgradeHistoryStores } from './indexeddb-history-store.ts'
import {
  type ClientStores,
  GroupSnapshotSchema,
  type GroupStateStore,
  type IdentityStore,
  StoredIdentitySchema,
  TrustRecordSchema,
  type TrustStore,
} from './stores.ts'

const DATABASE_PREFIX = 'chatbox:'
/** 2 added the history and its key (indexeddb-history-store.ts). */
const VERSION = 2
const IDENTITY = 'identity'
const TRUST = 'trust'
const GROUP = 'group'
/** identity and group each hold one record under this key; trust holds one per nameKey. */
const ONLY = 'current'

/** A stored record exists but cannot be used; the message says how to recover. */
export class DamagedStoreError extends Error {
  override readonly name = 'DamagedStoreError'
}

/** The database name for one chat name on this origin; names are case-insensitive. */
export function databaseName(name: string): string {
  return DATABASE_PREFIX + nameKey(name)
}

export async function openIndexedDbStores(
  name: string,
  factory: IDBFactory = indexedDB,
): Promise<ClientStores & { close(): void }> {
  const db = await openDatabase(factory, databaseName(name))
  return {
    identity: createIdentityStore(db),
    trust: createTrustStore(db),
    group: createGroupStore(db),
    history: createIndexedDbHistoryStore(db),
    close: () => db.close(),
  }
}

/** Forgets everything kept for `name` on this origin: identity, trusted keys, group, history. */
export function deleteIndexedDbStores(name: string, factory: IDBFactory = indexedDB) {
  return settle(factory.deleteDatabase(databaseName(name)))
}

function openDatabase(factory: IDBFactory, databaseName: string): Promise<IDBDatabase> {
  const request = factory.open(databaseName, VERSION)
  request.onupgradeneeded = () => {
    const db = request.result
    for (const store of [IDENTITY, TRUST, GROUP]) {
      if (!db.objectStoreNames.contains(store)) db.createObjectStore(store)
    }
    upgradeHistoryStores(db)
  }
  return settle(request).then((db) => {
    // Another tab upgrading the schema must not wait on this one forever.
    db.onversionchange = () => db.close()
    return db
  })
}

function settle<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'))
  })
}

/**
 * One request in its own transaction, resolved once the transaction has committed, not merely
 * when the request succeeded: a save the engine awaited must survive a reload right after.
 * Identity and trust ask for strict durability: losing either would look like a key change.
 */
function run<T>(
  db: IDBDatabase,
  store: string,
  mode: IDBTransactionMode,
  body: (objects: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  return transact(db, store, mode, (objects) => {
    const request = body(objects)
    return () => request.result
  })
}

/** Several requests in one transaction; `body` returns how to read the result once committed. */
function transact<T>(
  db: IDBDatabase,
  store: string,
  mode: IDBTransactionMode,
  body: (objects: IDBObjectStore) => () => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode, {
      durability: store === GROUP ? 'default' : 'strict',
    })
    const result = body(transaction.objectStore(store))
    transaction.oncomplete = () => resolve(result())
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB aborted'))
  })
}

function parse<TSchema extends v.GenericSchema>(
  schema: TSchema,
  value: unknown,
  what: string,
  recovery: string,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, value)
  if (result.success) return result.output
  const issue = result.issues[0]
  const at = v.getDotPath(issue)
  throw new DamagedStoreError(
    `the stored ${what} is damaged (${at === null ? issue.message : `${at}: ${issue.message}`}); ` +
      recovery,
  )
}

function createIdentityStore(db: IDBDatabase): IdentityStore {
  const recovery =
    "clear this site's data to start over with a new identity (peers will see a key change)"
  return {
    async load() {
      const value = await run(db, IDENTITY, 'readonly', (objects) => objects.get(ONLY))
      return value === undefined
        ? undefined
        : parse(StoredIdentitySchema, value, 'identity', recovery)
    },
    async save(identity) {
      const valid = v.parse(StoredIdentitySchema, identity)
      await run(db, IDENTITY, 'readwrite', (objects) => objects.put(valid, ONLY))
    },
  }
}

function createTrustStore(db: IDBDatabase): TrustStore {
  // Throwing rather than forgetting: a dropped record would let a substituted key pass as a
  // first sighting.
  const recovery =
    "clear this site's data to forget the keys seen so far (every peer is trusted anew)"
  const check = (key: IDBValidKey, value: unknown) => {
    const record = parse(TrustRecordSchema, value, `key of ${String(key)}`, recovery)
    if (nameKey(record.name) !== key) {
      throw new DamagedStoreError(`the stored key of ${String(key)} is filed under another name`)
    }
    return record
  }
  return {
    async get(name) {
      const key = nameKey(name)
      const value = await run(db, TRUST, 'readonly', (objects) => objects.get(key))
      return value === undefined ? undefined : check(key, value)
    },
    async put(record) {
      const valid = v.parse(TrustRecordSchema, record)
      await run(db, TRUST, 'readwrite', (objects) => objects.put(valid, nameKey(valid.name)))
    },
    async list() {
      // Keys and values from one transaction, so a put in between cannot pair them up wrongly.
      const [keys, values] = await transact(db, TRUST, 'readonly', (objects) => {
        const keys = objects.getAllKeys()
        const values = objects.getAll()
        return () => [keys.result, values.result] as const
      })
      return keys.map((key, index) => check(key, values[index]))
    },
  }
}

function createGroupStore(db: IDBDatabase): GroupStateStore {
  return {
    async load() {
      const value = await run(db, GROUP, 'readonly', (objects) => objects.get(ONLY))
      if (value === undefined) return undefined
      const result = v.safeParse(GroupSnapshotSchema, value)
      if (result.success) return result.output
      // Unlike identity and trust, losing the group state is safe: the engine rejoins as a
      // newcomer. Drop it so the user is not stuck behind a record nobody can fix by hand.
      await run(db, GROUP, 'readwrite', (objects) => objects.delete(ONLY))
      return undefined
    },
    async save(snapshot) {
      const valid = v.parse(GroupSnapshotSchema, snapshot)
      await run(db, GROUP, 'readwrite', (objects) => objects.put(valid, ONLY))
    },
    async clear() {
      await run(db, GROUP, 'readwrite', (objects) => objects.delete(ONLY))
    },
  }
}
