// The room's log in bun:sqlite: appends batched per event-loop turn, replays read by count and
// bytes, and retention by entries, bytes and age. Each row keeps its time and size before the
// frame, so pruning reads a few numbers a row and never a frame's overflow pages.
import type { Database } from 'bun:sqlite'
import { encodeFrame } from '../../../shared/protocol/codec.ts'
import type { LoggedFrame } from '../../../shared/protocol/frames.ts'
import type { LogRetention } from '../../../shared/protocol/limits.ts'
import type { LoggedEntry, RoomLog, UnstampedFrame } from '../room/ports.ts'
import { createWritePacer } from './write-pacer.ts'

export interface SqliteLog extends Omit<RoomLog, 'head'> {
  /** The head is synchronous here, so the server knows it before it starts listening. */
  head(): number
  /** Writes every append still waiting, now (before a commit, or closing). */
  writePending(): void
  /** Inside the caller's transaction: the next entry, written now (an accepted commit). */
  insertNext(frame: UnstampedFrame): TimedEntry
  /** The transaction that inserted `entry` has committed: it is the head now. */
  committed(entry: TimedEntry): void
  /** Holds the batches for a checkpoint's quiet moment (checkpointer.ts); a commit writes them. */
  hold(): void
  /** Writes a batch that came due while held (a turn's worth a turn), and goes on as before. */
  release(): void
}

/** An entry with the time of its frame, which retention by age goes by. */
export interface TimedEntry extends LoggedEntry {
  readonly at: number
}

const LOG_TABLE = `
  CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    frame TEXT NOT NULL
  )`

/** Before retention counted bytes and age, rows held only (seq, frame): rewritten once. */
const MIGRATE_LOG = `
  CREATE TABLE log_sized (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    frame TEXT NOT NULL
  );
  INSERT INTO log_sized (seq, at, size, frame)
    SELECT seq, COALESCE(json_extract(frame, '$.at'), 0), length(frame), frame FROM log;
  DROP TABLE log;
  ALTER TABLE log_sized RENAME TO log;`

/** Pruning waits for this much excess, so it runs now and then, not on every append. */
const SLACK_ENTRIES = 1000
const SLACK_AGE_MS = 60_000
const slackBytes = (retention: LogRetention) => Math.min(16 * 1024 * 1024, retention.bytes / 16)

/**
 * A batch this large goes at the end of its turn without waiting out the pace: its commit and
 * its write to each member are paid for already (16 messages a batch is what the 3 ms pace
 * gathers at ~5,300 msg/s, above where the bench measures CPU per delivery), and waiting longer
 * would only add latency, and a larger burst for every member to read at once.
 */
const FULL_BATCH = 16

/**
 * At most this many entries are written and handed back in one event-loop turn; a backlog (what
 * piles up while the server's core is taken from it, or while a checkpoint holds the log) goes
 * over as many turns as it needs, one after the other. Handed back at once, 125 messages went to
 * 64 members in one turn of 28–32 ms in the soak (docs/performance.md), and the event loop
 * answered nothing else meanwhile. Twice FULL_BATCH: a room below ~10,000 msg/s never meets it.
 */
const TURN_BATCH = 32

/** `batchMs`: a busy room's appends are written at most this often (Limits.writeBatchMs). */
export function openSqliteLog(db: Database, retention: LogRetention, batchMs: number): SqliteLog {
  db.run(LOG_TABLE)
  const columns = db.query<{ name: string }, []>('PRAGMA table_info(log)').all()
  if (!columns.some((column) => column.name === 'size')) db.transaction(() => db.run(MIGRATE_LOG))()

  const insertEntry = db.query('INSERT INTO log (seq, at, size, frame) VALUES (?, ?, ?, ?)')
  // A frame is a BLOB (binary) or TEXT (JSON, as logged before MLS frames went binary).
  const selectAfter = db.query<LoggedEntry, [number, number]>(
    'SELECT seq, frame AS wire FROM log WHERE seq > ? ORDER BY seq LIMIT ?',
  )
  const selectSizes = db.query<{ seq: number; at: number; size: number }, [number]>(
    'SELECT seq, at, size FROM log WHERE seq >= ? ORDER BY seq',
  )
  const prune = db.query('DELETE FROM log WHERE seq <= ?')
  const summary = db.query<
    { first: number | null; last: number | null; bytes: number | null; firstAt: number | null },
    []
  >(
    `SELECT MIN(seq) AS first, MAX(seq) AS last, SUM(size) AS bytes,
       (SELECT at FROM log ORDER BY seq LIMIT 1) AS firstAt FROM log`,
  )

  const initial = summary.get()
  let head = initial?.last ?? 0
  let oldest = initial?.first ?? head + 1
  let bytes = initial?.bytes ?? 0
  let oldestAt = initial?.firstAt ?? Number.POSITIVE_INFINITY

  const entryFor = (frame: UnstampedFrame, seq: number): TimedEntry => ({
    seq,
    wire: encodeFrame({ ...frame, seq } as LoggedFrame),
    at: frame.at,
  })
  type Written = TimedEntry

  function write(entry: Written): void {
    insertEntry.run(entry.seq, entry.at, entry.wire.length, entry.wire)
  }

  function held(entry: Written): void {
    if (oldest > head) oldestAt = entry.at
    head = entry.seq
    bytes += entry.wire.length
  }

  /** Past a bound by more than its slack: the oldest entries go until every bound holds again. */
  function pruneIfDue(now: number): void {
    const due =
      head - oldest + 1 > retention.entries + SLACK_ENTRIES ||
      bytes > retention.bytes + slackBytes(retention) ||
      oldestAt < now - retention.ageMs - SLACK_AGE_MS
    if (!due) return
    let cut = oldest - 1
    let freed = 0
    let nextAt = Number.POSITIVE_INFINITY
    for (const row of selectSizes.iterate(oldest)) {
      const over =
        head - cut > retention.entries ||
        bytes - freed > retention.bytes ||
        row.at < now - retention.ageMs
      // The newest entry stays whatever it weighs: it was just acknowledged.
      if (!over || row.seq === head) {
        nextAt = row.at
        break
      }
      cut = row.seq
      freed += row.size
    }
    try {
      prune.run(cut)
    } catch {
      // Housekeeping: the entry that called it is stored already and must not be refused for
      // this. The next append tries again.
      return
    }
    oldest = cut + 1
    bytes -= freed
    oldestAt = nextAt
  }

  // Group commit: appends wait for the end of the event-loop turn (and, while the room is busy,
  // for the pace: write-pacer.ts) and are written in one transaction, and only then handed back,
  // so members are only ever sent what the log holds. One commit each cost ~40 µs of CPU here;
  // a batch costs ~3 µs a row. A batch that fails (a full disk) is refused whole: its senders
  // get `unavailable` and nobody was sent any of it. Sixteen pending go without waiting out the
  // pace (FULL_BATCH); over 32 go a turn's worth a turn (TURN_BATCH).
  let pending: Array<{
    readonly entry: Written
    readonly resolve: (entry: LoggedEntry) => void
    readonly reject: (error: unknown) => void
  }> = []
  /** Sequence numbers handed out, including those still waiting to be written. */
  let assigned = head
  const pacer = createWritePacer(batchMs)
  /** Held for a checkpoint's quiet moment, and whether a batch came due meanwhile. */
  let holding = false
  let dueWhileHolding = false
  const writeBatch = db.transaction((entries: Written[]) => {
    for (const entry of entries) write(entry)
  })

  /** The paced write: a turn's worth, and the rest in the turns after it. */
  function writeWhenFree(): void {
    if (holding) {
      dueWhileHolding = true
      return
    }
    writePending(TURN_BATCH)
    // A write that must have everything (a commit's) may empty it first: this then does nothing.
    if (pending.length > 0) setImmediate(writeWhenFree)
  }

  /** Writes the first `limit` entries pending, and hands them back. */
  function writePending(limit = Number.POSITIVE_INFINITY): void {
    if (pending.length === 0) return
    pacer.writing()
    const batch = pending.length > limit ? pending.splice(0, limit) : pending
    if (batch === pending) pending = []
    try {
      writeBatch(batch.map((item) => item.entry))
    } catch (error) {
      // Those still pending hold the numbers after these: they are refused too, so the numbers
      // can be handed out again without a gap.
      const refused = [...batch, ...pending]
      pending = []
      assigned = head
      for (const item of refused) item.reject(error)
      return
    }
    for (const item of batch) held(item.entry)
    pruneIfDue((batch.at(-1) as (typeof batch)[number]).entry.at)
    for (const { entry, resolve } of batch) resolve({ seq: entry.seq, wire: entry.wire })
  }

  return {
    append(frame) {
      assigned += 1
      const { promise, resolve, reject } = Promise.withResolvers<LoggedEntry>()
      if (pending.length === 0) pacer.schedule(writeWhenFree)
      pending.push({ entry: entryFor(frame, assigned), resolve, reject })
      if (pending.length === FULL_BATCH) pacer.hurry()
      return promise
    },
    readAfter(afterSeq, limit, maxBytes = Number.POSITIVE_INFINITY) {
      const entries: LoggedEntry[] = []
      let taken = 0
      // Stepped row by row, so a page of large files stops at the budget instead of loading all.
      for (const entry of selectAfter.iterate(afterSeq, limit)) {
        taken += entry.wire.length
        if (entries.length > 0 && taken > maxBytes) break
        entries.push(entry)
      }
      return entries
    },
    /** What is written: entries still waiting reach everyone live once they are. */
    head: () => head,
    oldest: () => oldest,
    bytes: () => bytes,
    writePending: () => writePending(),
    insertNext(frame) {
      const entry = entryFor(frame, head + 1)
      write(entry)
      return entry
    },
    committed(entry) {
      held(entry)
      assigned = head
      pruneIfDue(entry.at)
    },
    hold() {
      holding = true
    },
    release() {
      holding = false
      if (dueWhileHolding) {
        dueWhileHolding = false
        writeWhenFree()
      }
    },
  }
}
