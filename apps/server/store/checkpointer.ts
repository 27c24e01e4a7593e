// The store's side of its checkpoint threads (checkpoint-worker.ts): starts the copier and the
// restarter, and gives the copier the quiet moments it asks for by holding the log's batches
// while the restarter starts the write-ahead log over, never for long.
import * as v from 'valibot'
import { type CheckpointCommand, CheckpointReportSchema } from './checkpoint-messages.ts'

const CHECKPOINT_INTERVAL_MS = 1000
/**
 * A log this long (64 MB of 4 KB pages), still being written to, is started over: about every
 * 9 s at 4,000 messages a second. Each time the store holds its batches for the restart's three
 * fsyncs, which took 23 ms at the median here. Started over at 16 MB, the holds took 10 ms but
 * came every 2.3 s: 0.43 % of the time held against 0.26 %.
 */
export const WAL_RESTART_FRAMES = 16_384
/**
 * The longest the batches are held, whatever becomes of the restarter: its holds took 47 ms at
 * most here. Let go early, the store writes on and the log is started over at a later round.
 */
const MAX_HOLD_MS = 50

export interface QuietableLog {
  /** Holds the batches waiting to be written (an accepted commit still writes them). */
  hold(): void
  /** Writes what was held, and goes on as before. */
  release(): void
}

export interface Checkpointer {
  stop(): void
}

export interface CheckpointThreads {
  readonly copier: Worker
  readonly restarter: Worker
}

function checkpointThread(): Worker {
  // ref: false, so the thread alone never keeps the process alive.
  return new Worker(new URL('./checkpoint-worker.ts', import.meta.url), { ref: false })
}

/** `threads`: when not checkpoint-worker.ts (a test's). */
export function startCheckpointer(
  file: string,
  log: QuietableLog,
  restartFrames = WAL_RESTART_FRAMES,
  threads: CheckpointThreads = { copier: checkpointThread(), restarter: checkpointThread() },
): Checkpointer {
  const { copier, restarter } = threads
  const tell = (thread: Worker, command: CheckpointCommand) => thread.postMessage(command)
  let letGo: ReturnType<typeof setTimeout> | undefined

  function release(): void {
    if (letGo === undefined) return
    clearTimeout(letGo)
    letGo = undefined
    log.release()
  }

  copier.onmessage = (event: MessageEvent<unknown>) => {
    const report = v.safeParse(CheckpointReportSchema, event.data)
    // One quiet moment at a time.
    if (!report.success || report.output.type !== 'quiet-please' || letGo !== undefined) return
    log.hold()
    letGo = setTimeout(release, MAX_HOLD_MS)
    tell(restarter, { type: 'quiet' })
  }
  restarter.onmessage = (event: MessageEvent<unknown>) => {
    const report = v.safeParse(CheckpointReportSchema, event.data)
    if (report.success && report.output.type === 'done') release()
  }
  tell(restarter, { type: 'restart', file })
  tell(copier, { type: 'copy', file, intervalMs: CHECKPOINT_INTERVAL_MS, restartFrames })
  return {
    stop() {
      release()
      copier.terminate()
      restarter.terminate()
    },
  }
}
