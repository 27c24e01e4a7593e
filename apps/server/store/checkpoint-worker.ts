// Runs SQLite's WAL checkpoints on a thread of their own: a checkpoint fsyncs the log and the
// database file (~10 ms here), which on the server's event loop stalled every member's frames.
import { Database } from 'bun:sqlite'

declare const self: Worker

const CHECKPOINT_INTERVAL_MS = 1000

self.onmessage = (event: MessageEvent<{ file: string }>) => {
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
