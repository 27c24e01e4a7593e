// What the store and its checkpoint thread (checkpoint-worker.ts) say to each other.
import * as v from 'valibot'

export const CheckpointCommandSchema = v.variant('type', [
  /** Open the database and checkpoint it every `intervalMs`. */
  v.object({ type: v.literal('start'), file: v.string(), intervalMs: v.number() }),
  /** The store holds its batches: checkpoint what is left now. */
  v.object({ type: v.literal('quiet') }),
])
export type CheckpointCommand = v.InferOutput<typeof CheckpointCommandSchema>

export const CheckpointReportSchema = v.variant('type', [
  /** A checkpoint could not copy everything: hold the batches for a moment, then say `quiet`. */
  v.object({ type: v.literal('quiet-please') }),
  /** Write again: when the checkpoint copied everything, the next batch starts the log over. */
  v.object({ type: v.literal('done') }),
])
export type CheckpointReport = v.InferOutput<typeof CheckpointReportSchema>
