// SQLite's WAL checkpoints, off the event loop, on two threads that run this file:
// - the copier checkpoints every second: a checkpoint fsyncs the log and the database file
//   (~10 ms here), which on the server's event loop stalled every member's frames. It yields its
//   core to the event loop (on Linux it sets its own nice value to 19): where the server is held to
//   one core (taskset, a small container) it took 20–70 ms of a 100 ms window at times.
// - the restarter starts the write-ahead log over. A checkpoint copies only what was written
//   before it began, and the log starts over from its beginning only once all of it is copied. In
//   a busy room a batch is written every few milliseconds, always during the checkpoint, so the
//   log never started over: it grew by ~5 MB a second at 4,000 messages a second (160 MB a second
//   in the store's test), and writes that lengthened the file waited on the file system's
//   journal, up to 30 ms on the event loop. So once the log is long and still being written to,
//   the copier asks the store for a quiet moment (checkpointer.ts: it holds its next batch), in
//   which the restarter copies the little written meanwhile and starts the log over with a write
//   of its own (`wal_restarts`, one row); SQLite then fsyncs the log's new header, which on the
//   event loop was a stall of its own (11 ms). The restarter keeps the process's priority: at nice
//   19, on a busy core, the store's holds took up to 21 ms, for a restart every ~2 s.
import { Database } from 'bun:sqlite'
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import * as v from 'valibot'
import { CheckpointCommandSchema, type CheckpointReport } from './checkpoint-messages.ts'

declare const self: Worker

/** The lowest priority: the checkpoint runs on time the event loop leaves. */
const BACKGROUND_NICE = 19

function yieldToEventLoop(): void {
  try {
    // /proc/thread-self names this thread ("PID/task/TID"); setpriority takes a thread's id.
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').at(-1))
    setPriority(threadId, BACKGROUND_NICE)
  } catch {
    // Not Linux: the checkpoints run at the process's priority, as before.
  }
}

function report(message: CheckpointReport): void {
  self.postMessage(message)
}

/**
 * A connection for one round, closed after it: one left open when the thread is ended keeps the
 * store's close from removing the write-ahead log.
 */
function withDatabase<T>(file: string, use: (db: Database) => T): T {
  const db = new Database(file, { strict: true })
  try {
    db.run('PRAGMA busy_timeout = 2000')
    // A checkpoint still fsyncs the log and the database; FULL would fsync each restart twice.
    db.run('PRAGMA synchronous = NORMAL')
    return use(db)
  } finally {
    db.close()
  }
}

/** Copies what it can without waiting for or blocking the writer; the log's length in frames. */
function copy(db: Database): { log: number; checkpointed: number } {
  return (
    db.query<{ log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(PASSIVE)').get() ?? {
      log: 0,
      checkpointed: 0,
    }
  )
}

/** With everything copied and the store holding its batches, this write starts the log over. */
function startOver(db: Database): void {
  db.run(
    'INSERT INTO wal_restarts (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at',
    [Date.now()],
  )
}

/** The restarter's database, once it is told. */
let restarterFile: string | undefined
/** The log's length the last checkpoint saw: when it has not changed, nobody is writing. */
let lastLength = 0

/** The copier's round: all of the log may be copied, yet the writer went on meanwhile. */
function copyRound(file: string, restartFrames: number): void {
  try {
    const { log } = withDatabase(file, copy)
    const written = log !== lastLength
    lastLength = log
    if (log >= restartFrames && written) report({ type: 'quiet-please' })
  } catch {
    // A busy or full disk: the next round tries again; the log stays whole meanwhile.
  }
}

/** The restarter's: the store holds its batches, what is left is copied, the log starts over. */
function restart(file: string): void {
  try {
    withDatabase(file, (db) => {
      const { log, checkpointed } = copy(db)
      if (checkpointed === log) startOver(db)
    })
  } catch {
    // As above: the store writes on, and the copier asks again.
  }
  report({ type: 'done' })
}

self.onmessage = (event: MessageEvent<unknown>) => {
  const command = v.parse(CheckpointCommandSchema, event.data)
  if (command.type === 'copy') {
    yieldToEventLoop()
    setInterval(() => copyRound(command.file, command.restartFrames), command.intervalMs)
  } else if (command.type === 'restart') {
    restarterFile = command.file
  } else if (restarterFile !== undefined) {
    restart(restarterFile)
  }
}
