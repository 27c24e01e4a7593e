// What the store and its checkpoint thread (checkpoint-worker.ts) say to each other.
import * as v from 'valibot'

export const CheckpointCommandSchema = v.variant('type', [
  /**
   * Be the copier: open the database and checkpoint it every `intervalMs`, at nice 19; ask for a
   * quiet moment once the log is `restartFrames` long and still being written to.
   */
  v.object({
    type: v.literal('copy'),
    file: v.string(),
    intervalMs: v.number(),
    restartFrames: v.number(),
  }),
  /** Be the restarter: open the database and wait for `quiet`. */
  v.object({ type: v.literal('restart'), file: v.string() }),
  /** To the restarter: the store holds its batches; copy what is left and start the log over. */
  v.object({ type: v.literal('quiet') }),
])
export type CheckpointCommand = v.InferOutput<typeof CheckpointCommandSchema>

export const CheckpointReportSchema = v.variant('type', [
  /** From the copier: the log is long; hold the batches and tell the restarter `quiet`. */
  v.object({ type: v.literal('quiet-please') }),
  /** From the restarter: write again (the log started over if everything could be copied). */
  v.object({ type: v.literal('done') }),
])
export type CheckpointReport = v.InferOutput<typeof CheckpointReportSchema>
