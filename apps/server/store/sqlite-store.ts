// The embedded store on bun:sqlite: name-to-key bindings and the room's ordered log. Holds only
// what the server may know: names, public keys, and frames whose payloads are MLS ciphertext.
import { Database } from 'bun:sqlite'
import { accessSync, constants, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { LoggedFrame } from '../../../shared/protocol/frames.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import type {
  ClaimResult,
  DistributiveOmit,
  IdentityStore,
  LoggedEntry,
  RoomLog,
} from '../room/ports.ts'

export interface SqliteStore {
  readonly identities: IdentityStore
  readonly log: RoomLog
  /** Writes what is pending; the store stays usable. */
  flush(): void
  close(): void
}

export class StoreError extends Error {}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS identities (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    identity_key TEXT NOT NULL,
    bound_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,
    frame TEXT NOT NULL
  );
`

/** Opens (or creates) `chatbox.sqlite` in `dataDir`; `:memory:` keeps everything in memory. */
export function openSqliteStore(dataDir: string, retention: number): SqliteStore {
  const db = new Database(locate(dataDir), { create: true, strict: true })
  try {
    db.run('PRAGMA journal_mode = WAL')
    // NORMAL with WAL survives a process crash; only a power cut can lose the last commits.
    db.run('PRAGMA synchronous = NORMAL')
    db.run('PRAGMA busy_timeout = 2000')
    db.run(SCHEMA)
  } catch (error) {
    db.close()
    throw new StoreError(`cannot write the store in ${dataDir}: ${(error as Error).message}`)
  }

  const insertIdentity = db.query(
    'INSERT OR IGNORE INTO identities (name_key, name, identity_key, bound_at) VALUES (?, ?, ?, ?)',
  )
  const selectIdentity = db.query<{ identity_key: string }, [string]>(
    'SELECT identity_key FROM identities WHERE name_key = ?',
  )
  const insertEntry = db.query('INSERT INTO log (seq, frame) VALUES (?, ?)')
  const selectAfter = db.query<LoggedEntry, [number, number]>(
    'SELECT seq, frame AS text FROM log WHERE seq > ? ORDER BY seq LIMIT ?',
  )
  const prune = db.query('DELETE FROM log WHERE seq <= ?')
  const bounds = db.query<{ first: number | null; last: number | null }, []>(
    'SELECT MIN(seq) AS first, MAX(seq) AS last FROM log',
  )

  const initial = bounds.get()
  let head = initial?.last ?? 0
  let oldest = initial?.first ?? head + 1

  // Appends are written in one transaction per event-loop turn: a burst of messages costs one
  // commit instead of one each.
  let pending: LoggedEntry[] = []
  let flushScheduled = false
  const writePending = db.transaction((entries: LoggedEntry[]) => {
    for (const entry of entries) insertEntry.run(entry.seq, entry.text)
  })

  function flush(): void {
    flushScheduled = false
    if (pending.length === 0) return
    const entries = pending
    pending = []
    writePending(entries)
    if (head - oldest + 1 > retention + 1000) {
      oldest = head - retention + 1
      prune.run(oldest - 1)
    }
  }

  const identities: IdentityStore = {
    claim(name, identityKey, at): ClaimResult {
      const key = nameKey(name)
      const inserted = insertIdentity.run(key, name, identityKey, at).changes === 1
      if (inserted) return 'new'
      return selectIdentity.get(key)?.identity_key === identityKey ? 'known' : 'conflict'
    },
  }

  const log: RoomLog = {
    append(frame: DistributiveOmit<LoggedFrame, 'seq'>): LoggedEntry {
      head += 1
      const entry = { seq: head, text: JSON.stringify({ ...frame, seq: head }) }
      pending.push(entry)
      if (!flushScheduled) {
        flushScheduled = true
        setImmediate(flush)
      }
      return entry
    },
    readAfter(afterSeq, limit) {
      flush()
      return selectAfter.all(afterSeq, limit)
    },
    head: () => head,
    oldest: () => oldest,
  }

  return {
    identities,
    log,
    flush,
    close() {
      flush()
      db.close()
    },
  }
}

function locate(dataDir: string): string {
  if (dataDir === ':memory:') return dataDir
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    accessSync(dataDir, constants.W_OK)
  } catch (error) {
    throw new StoreError(
      `the data directory ${dataDir} is not writable (${(error as NodeJS.ErrnoException).code}); ` +
        'set CHATBOX_DATA_DIR to a directory this user can write',
    )
  }
  return join(dataDir, 'chatbox.sqlite')
}
