// The embedded store on bun:sqlite: name-to-key bindings and the room's ordered log. Holds only
// what the server may know: names, public keys, and frames whose payloads are MLS ciphertext.
import { Database } from 'bun:sqlite'
import { accessSync, constants, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { LoggedFrame } from '../../../shared/protocol/frames.ts'
import { DEFAULT_WRITE_BATCH_MS, type LogRetention } from '../../../shared/protocol/limits.ts'
import type {
  DistributiveOmit,
  GroupRecord,
  GroupStore,
  IdentityStore,
  MaybePromise,
  RoomLog,
} from '../room/ports.ts'
import { startCheckpointer, WAL_RESTART_FRAMES } from './checkpointer.ts'
import { makeStorePrivate } from './private-files.ts'
import { openSqliteIdentities } from './sqlite-identities.ts'
import { openSqliteLog, type SqliteLog, type TimedEntry } from './sqlite-log.ts'

export interface SqliteStore {
  readonly identities: IdentityStore
  /** The head is synchronous here, so the server knows it before it starts listening. */
  readonly log: Omit<RoomLog, 'head'> & { head(): number }
  /** Synchronous here, so the server can read the group before it starts listening. */
  readonly groups: Omit<GroupStore, 'load'> & { load(): GroupRecord | null }
  /** Moves what the write-ahead log holds into the database file; the store stays usable. */
  flush(): void
  close(): void
}

export class StoreError extends Error {}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS mls_group (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    group_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    roster TEXT NOT NULL,
    state TEXT
  );
  CREATE TABLE IF NOT EXISTS wal_restarts (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
  );
`

/**
 * 2: the group record keeps the group's public MLS state, which every commit is checked against.
 * 3: a name binding keeps its skeleton and when it was first used in the group (sqlite-identities.ts).
 */
const SCHEMA_VERSION = 3

/**
 * Opens (or creates) `chatbox.sqlite` in `dataDir`; `:memory:` keeps everything in memory.
 * `batchMs`: a busy room's messages are written at most this often (Limits.writeBatchMs).
 * `walRestartFrames`: how long the write-ahead log grows before it is started over (checkpointer.ts).
 */
export function openSqliteStore(
  dataDir: string,
  retention: LogRetention,
  batchMs = DEFAULT_WRITE_BATCH_MS,
  walRestartFrames = WAL_RESTART_FRAMES,
): SqliteStore {
  const file = locate(dataDir)
  const cannot = (what: string, error: unknown) =>
    new StoreError(
      `cannot ${what} the store ${file}: ${(error as Error).message}; make it writable or set ` +
        'CHATBOX_DATA_DIR to a directory this user can write',
    )
  let db: Database
  let log: SqliteLog
  let identities: IdentityStore
  try {
    // SQLite would make it 0644 under the usual umask, readable by anyone the directory lets in.
    if (file !== ':memory:') makeStorePrivate(file)
    db = new Database(file, { create: true, strict: true })
  } catch (error) {
    throw cannot('open', error)
  }
  try {
    db.run('PRAGMA journal_mode = WAL')
    // NORMAL with WAL survives a process crash; only a power cut can lose the last commits.
    db.run('PRAGMA synchronous = NORMAL')
    db.run('PRAGMA busy_timeout = 2000')
    // Checkpoints run on a worker thread (checkpoint-worker.ts), never on the event loop.
    if (file !== ':memory:') db.run('PRAGMA wal_autocheckpoint = 0')
    db.run(SCHEMA)
    log = openSqliteLog(db, retention, batchMs)
    identities = openSqliteIdentities(db)
    const columns = db.query<{ name: string }, []>('PRAGMA table_info(mls_group)').all()
    if (!columns.some((column) => column.name === 'state')) {
      db.run('ALTER TABLE mls_group ADD COLUMN state TEXT')
    }
    // Always a write, even when the tables exist: SQLite opens a write-protected file read-only
    // without a word, and the room would otherwise find out at the first message.
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`)
  } catch (error) {
    db.close()
    throw cannot('write', error)
  }

  const selectGroup = db.query<
    { group_id: string; epoch: number; roster: string; state: string | null },
    []
  >('SELECT group_id, epoch, roster, state FROM mls_group WHERE id = 1')
  const insertGroup = db.query(
    'INSERT OR IGNORE INTO mls_group (id, group_id, epoch, roster, state) VALUES (1, ?, ?, ?, ?)',
  )
  const advanceGroup = db.query(
    'UPDATE mls_group SET epoch = ?, roster = ?, state = ? WHERE id = 1 AND group_id = ? AND epoch = ?',
  )
  const deleteGroup = db.query('DELETE FROM mls_group WHERE id = 1 AND group_id = ?')

  function loadGroup(): GroupRecord | null {
    const row = selectGroup.get()
    if (!row) return null
    if (row.state === null) {
      // A group from before commits were checked has no public state to check them against: it
      // ends here, and its members rejoin as after any group's end.
      deleteGroup.run(row.group_id)
      return null
    }
    return {
      groupId: row.group_id,
      epoch: row.epoch,
      roster: decodeRoster(row.roster),
      state: row.state,
    }
  }

  // The epoch check, the log entry and the new roster commit together or not at all.
  const acceptCommit = db.transaction(
    (
      expected: GroupRecord,
      next: GroupRecord,
      frame: DistributiveOmit<LoggedFrame, 'seq'>,
    ): TimedEntry | 'stale' => {
      const moved = advanceGroup.run(
        next.epoch,
        JSON.stringify(next.roster),
        next.state,
        expected.groupId,
        expected.epoch,
      )
      if (moved.changes !== 1) return 'stale'
      return log.insertNext(frame)
    },
  )

  /** A group that ended but whose record could not be deleted yet (a full disk). */
  let undissolved: string | undefined
  const found = db.transaction((record: GroupRecord): boolean => {
    if (undissolved !== undefined) deleteGroup.run(undissolved)
    return (
      insertGroup.run(record.groupId, record.epoch, JSON.stringify(record.roster), record.state)
        .changes === 1
    )
  })

  const groups: SqliteStore['groups'] = {
    load: loadGroup,
    found(record) {
      const stored = found(record)
      undissolved = undefined
      return stored
    },
    acceptCommit(expected, next, frame) {
      // Messages waiting for their batch hold earlier numbers: write them first, in order.
      log.writePending()
      // The head moves only once the transaction has committed: a failed COMMIT leaves no gap.
      const result = acceptCommit(expected, next, frame)
      if (result === 'stale') return result
      log.committed(result)
      return { seq: result.seq, wire: result.wire }
    },
    dissolve(groupId): MaybePromise<void> {
      // Reached from timers, where a throw would end the process: a failed delete is the
      // caller's rejection, and is done before the next group is stored.
      try {
        deleteGroup.run(groupId)
      } catch (error) {
        undissolved = groupId
        return Promise.reject(error)
      }
    },
  }

  const checkpointer =
    file === ':memory:' ? undefined : startCheckpointer(file, log, walRestartFrames)

  return {
    identities,
    log,
    groups,
    flush() {
      log.writePending()
      if (file !== ':memory:') db.run('PRAGMA wal_checkpoint(TRUNCATE)')
    },
    close() {
      log.writePending()
      checkpointer?.stop()
      // Closing the last connection checkpoints the write-ahead log and removes it.
      db.close()
    },
  }
}

function decodeRoster(text: string): string[] {
  const parsed: unknown = JSON.parse(text)
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new StoreError('the stored MLS roster is damaged')
  }
  return parsed
}

function locate(dataDir: string): string {
  if (dataDir === ':memory:') return dataDir
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    accessSync(dataDir, constants.W_OK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'EROFS' ? 'is on a read-only file system' : `is not writable (${code})`
    throw new StoreError(
      `the data directory ${dataDir} ${why}; set CHATBOX_DATA_DIR to a directory this user can write`,
    )
  }
  return join(dataDir, 'chatbox.sqlite')
}
