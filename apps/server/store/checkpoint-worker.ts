// Runs SQLite's WAL checkpoints on a thread of their own: a checkpoint fsyncs the log and the
// database file (~10 ms here), which on the server's event loop stalled every member's frames.
// The thread also yields its core to the event loop: on Linux it sets its own nice value to 19.
// Where the server is held to one core (taskset, a small container) this thread took 20–70 ms of
// a 100 ms window at times, and the event loop waited for it.
//
// A checkpoint copies only what was written before it began, and the write-ahead log starts
// over from its beginning only once all of it is copied. In a busy room a batch is written every
// few milliseconds, always during the checkpoint, so the log never started over: it grew by
// ~5 MB a second at 4,000 messages a second (160 MB a second in the store's test), and writes
// that lengthened the file waited on the file system's journal, up to 30 ms on the event loop.
// So when the log is long and still being written to, the checkpoint asks the store for a quiet
// moment (it holds its next batch), copies the little written meanwhile, and starts the log over
// itself, with a write of its own (`wal_restarts`, one row): the first write after a full copy
// starts the log over, and SQLite then fsyncs the log's new header, which on the event loop was a
// stall of its own (11 ms). Then it lets the store go on.
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

/** A log this long (about 1 MB of pages), still being written to, is started over. */
const RESTART_FRAMES = 256

interface Checkpoints {
  /** Copies what it can without waiting for or blocking the writer; the log's length in frames. */
  copy(): { log: number; checkpointed: number }
  /** With everything copied and the store holding its batches, this write starts the log over. */
  startOver(): void
}

function open(file: string): Checkpoints {
  const db = new Database(file, { strict: true })
  db.run('PRAGMA busy_timeout = 2000')
  return {
    copy() {
      // Prepared and finalized each time: a statement left open when the thread is ended keeps
      // its connection open, and the store's close then leaves the write-ahead log behind.
      const passive = db.prepare<{ log: number; checkpointed: number }, []>(
        'PRAGMA wal_checkpoint(PASSIVE)',
      )
      try {
        return passive.get() ?? { log: 0, checkpointed: 0 }
      } finally {
        passive.finalize()
      }
    },
    startOver() {
      db.run(
        'INSERT INTO wal_restarts (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at',
        [Date.now()],
      )
    },
  }
}

let checkpoints: Checkpoints | undefined
/** A quiet moment was asked for and not yet given back. */
let asking = false
/** The log's length the last checkpoint saw: when it has not changed, nobody is writing. */
let lastLength = 0

/** A round on the clock: all of the log may be copied, yet the writer went on meanwhile. */
function round(copies: Checkpoints): void {
  if (asking) return
  try {
    const { log } = copies.copy()
    const written = log !== lastLength
    lastLength = log
    if (log < RESTART_FRAMES || !written) return
    asking = true
    report({ type: 'quiet-please' })
  } catch {
    // A busy or full disk: the next round tries again; the log stays whole meanwhile.
  }
}

/** The store holds its batches now: what is left is copied quickly, and the log starts over. */
function quietRound(copies: Checkpoints): void {
  try {
    const { log, checkpointed } = copies.copy()
    lastLength = log
    if (checkpointed === log) copies.startOver()
  } catch {
    // As above: the store writes on, and the next round asks again.
  }
  asking = false
  report({ type: 'done' })
}

self.onmessage = (event: MessageEvent<unknown>) => {
  const command = v.parse(CheckpointCommandSchema, event.data)
  if (command.type === 'start') {
    yieldToEventLoop()
    const opened = open(command.file)
    checkpoints = opened
    setInterval(() => round(opened), command.intervalMs)
  } else if (checkpoints) {
    quietRound(checkpoints)
  }
}
