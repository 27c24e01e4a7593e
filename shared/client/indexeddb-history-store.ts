// The history store in the browser's IndexedDB: records sealed in blocks (history-seal.ts) under a
// device key that WebCrypto made non-extractable and IndexedDB keeps as a CryptoKey object, so
// neither the page's own script nor anyone reading the profile's files gets its bytes. Rows sit in
// one object store in append order, keyed under an owner id that names nobody; own messages still
// on their way are one sealed row beside them. No sockets or MLS.
import {
  createHistorySeal,
  createOutgoingSeal,
  generateHistoryKey,
  type HistorySeal,
  ownerId,
  worthCompacting,
} from './history-seal.ts'
import type { HistoryOwner, HistoryRecord, HistoryStore } from './stores.ts'

const HISTORY = 'history'
const KEYS = 'keys'
const HISTORY_KEY = 'history'

/**
 * Rows are keyed `[owner id, n]` with n counting up, so an owner's rows are one key range, read in
 * order and dropped with one request. A row's value is the sealed block, as bytes.
 */
const ownerRows = (id: string) => IDBKeyRange.bound([id, 0], [id, Number.MAX_SAFE_INTEGER])

/** Called from the database's upgrade: the object stores this module needs. */
export function upgradeHistoryStores(db: IDBDatabase): void {
  if (!db.objectStoreNames.contains(HISTORY)) db.createObjectStore(HISTORY)
  if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS)
}

export function createIndexedDbHistoryStore(db: IDBDatabase): HistoryStore {
  let key: Promise<CryptoKey> | undefined
  // Appends are sealed before they are written; the queue keeps the rows in call order.
  let tail: Promise<unknown> = Promise.resolve()

  function deviceKey(): Promise<CryptoKey> {
    key ??= loadOrCreateKey(db).catch((error: unknown) => {
      key = undefined
      throw error
    })
    return key
  }

  function queued<T>(owner: HistoryOwner, task: (seal: HistorySeal, id: string) => Promise<T>) {
    const result = tail.then(async () =>
      task(createHistorySeal(await deviceKey(), owner), ownerId(owner)),
    )
    tail = result.catch(() => {})
    return result
  }

  return {
    load: (owner) =>
      queued(owner, async (seal, id) => {
        const [keys, rows] = await transact(db, 'readonly', (history) => {
          const keys = history.getAllKeys(ownerRows(id))
          const rows = history.getAll(ownerRows(id))
          return () => [keys.result, rows.result as unknown[]] as const
        })
        const opened = await Promise.all(rows.map((row) => openRow(seal, row)))
        const records = opened.flatMap((block) => block ?? [])
        if (worthCompacting(rows.length, records.length)) {
          await rewrite(db, id, await seal.seal(records))
        } else if (opened.includes(undefined)) {
          // Dropped, so that they are not tried again on every load.
          await transact(db, 'readwrite', (history) => {
            keys.forEach((rowKey, index) => {
              if (opened[index] === undefined) history.delete(rowKey)
            })
            return () => undefined
          })
        }
        return records
      }),
    append: (owner, record) =>
      queued(owner, async (seal, id) => {
        const sealed = await seal.seal([record])
        // After the owner's last row, found in the same transaction: another tab's appends too.
        await transact(db, 'readwrite', (history) => {
          const last = history.openKeyCursor(ownerRows(id), 'prev')
          last.onsuccess = () => {
            let n = last.result ? Number((last.result.key as [string, number])[1]) + 1 : 0
            for (const bytes of sealed) history.add(bytes, [id, n++])
          }
          return () => undefined
        })
      }),
    replace: (owner, records) =>
      queued(owner, async (seal, id) => rewrite(db, id, await seal.seal(records))),
    clear: (owner) => queued(owner, (_seal, id) => rewrite(db, id, [])),
    loadOutgoing: (owner) =>
      queued(owner, async (_seal, id) => {
        const row = await transact(db, 'readonly', (history) => {
          const request = history.get(outgoingRow(id))
          return () => request.result as unknown
        })
        if (!(row instanceof Uint8Array)) return []
        return (await createOutgoingSeal(await deviceKey(), owner).open(row)) ?? []
      }),
    keepOutgoing: (owner, records) =>
      queued(owner, async (_seal, id) => {
        const sealed =
          records.length === 0
            ? undefined
            : await createOutgoingSeal(await deviceKey(), owner).seal(records)
        await transact(db, 'readwrite', (history) => {
          if (sealed) history.put(sealed, outgoingRow(id))
          else history.delete(outgoingRow(id))
          return () => undefined
        })
      }),
  }
}

/** Own messages on their way: one row just before the owner's history rows, out of their range. */
const outgoingRow = (id: string) => [id, -1]

async function openRow(seal: HistorySeal, row: unknown): Promise<HistoryRecord[] | undefined> {
  return row instanceof Uint8Array ? seal.open(row) : undefined
}

/** The owner's rows replaced by `sealed`, in one transaction: a crash leaves old or new. */
function rewrite(db: IDBDatabase, id: string, sealed: readonly Uint8Array[]): Promise<void> {
  return transact(db, 'readwrite', (history) => {
    history.delete(ownerRows(id))
    for (const [n, bytes] of sealed.entries()) history.add(bytes, [id, n])
    return () => undefined
  })
}

/**
 * The stored device key, or a new one. Made outside the transaction (WebCrypto would outlive it),
 * then put only if none is there yet, in one transaction: two tabs racing agree on the first.
 */
async function loadOrCreateKey(db: IDBDatabase): Promise<CryptoKey> {
  const stored = await transact(db, 'readonly', (_history, keys) => {
    const request = keys.get(HISTORY_KEY)
    return () => request.result as unknown
  })
  if (stored instanceof CryptoKey) return stored
  const fresh = await generateHistoryKey()
  return transact(db, 'readwrite', (_history, keys) => {
    const request = keys.get(HISTORY_KEY)
    let chosen = fresh
    request.onsuccess = () => {
      if (request.result instanceof CryptoKey) chosen = request.result
      else keys.put(fresh, HISTORY_KEY)
    }
    return () => chosen
  })
}

/** Requests in one transaction; `body` returns how to read the result once it has committed. */
function transact<T>(
  db: IDBDatabase,
  mode: IDBTransactionMode,
  body: (history: IDBObjectStore, keys: IDBObjectStore) => () => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const transaction = db.transaction([HISTORY, KEYS], mode)
    const result = body(transaction.objectStore(HISTORY), transaction.objectStore(KEYS))
    transaction.oncomplete = () => resolve(result())
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB aborted'))
  })
}
