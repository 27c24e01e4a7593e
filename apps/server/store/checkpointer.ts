// The store's side of its checkpoint thread (checkpoint-worker.ts): starts it, and gives it the
// quiet moments it asks for by holding the log's batches, never for long.
import * as v from 'valibot'
import { type CheckpointCommand, CheckpointReportSchema } from './checkpoint-messages.ts'

const CHECKPOINT_INTERVAL_MS = 1000
/**
 * The longest the batches are held for a checkpoint, whatever becomes of the thread. Copying what
 * a few milliseconds wrote and two fsyncs take 1–3 ms here.
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

/** `worker`: the thread, when not checkpoint-worker.ts (a test's). */
export function startCheckpointer(
  file: string,
  log: QuietableLog,
  // ref: false, so the thread alone never keeps the process alive.
  worker = new Worker(new URL('./checkpoint-worker.ts', import.meta.url), { ref: false }),
): Checkpointer {
  const send = (command: CheckpointCommand) => worker.postMessage(command)
  let letGo: ReturnType<typeof setTimeout> | undefined

  function release(): void {
    clearTimeout(letGo)
    letGo = undefined
    log.release()
  }

  worker.onmessage = (event: MessageEvent<unknown>) => {
    const report = v.safeParse(CheckpointReportSchema, event.data)
    if (!report.success) return
    if (report.output.type === 'done') {
      release()
      return
    }
    log.hold()
    letGo = setTimeout(release, MAX_HOLD_MS)
    send({ type: 'quiet' })
  }
  send({ type: 'start', file, intervalMs: CHECKPOINT_INTERVAL_MS })
  return {
    stop() {
      release()
      worker.terminate()
    },
  }
}
