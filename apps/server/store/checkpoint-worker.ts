// Runs SQLite's WAL checkpoints on a thread of their own: a checkpoint fsyncs the log and the
// database file (~10 ms here), which on the server's event loop stalled every member's frames.
// The thread also yields its core to the event loop: on Linux it sets its own nice value to 19.
// Where the server is held to one core (taskset, a small container) this thread took 20–70 ms of
// a 100 ms window at times, and the event loop waited for it.
import { Database } from 'bun:sqlite'
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'

declare const self: Worker

const CHECKPOINT_INTERVAL_MS = 1000
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

self.onmessage = (event: MessageEvent<{ file: string }>) => {
  yieldToEventLoop()
  const db = new Database(event.data.file, { strict: true })
  db.run('PRAGMA busy_timeout = 2000')
  setInterval(() => {
    try {
      // PASSIVE: copies what no reader still needs, without waiting for or blocking writers.
      db.run('PRAGMA wal_checkpoint(PASSIVE)')
    } catch {
      // A busy or full disk: the next round tries again; the log stays whole meanwhile.
    }
  }, CHECKPOINT_INTERVAL_MS)
}
