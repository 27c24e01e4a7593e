// Why a join did not go through, told apart once: a refusal the user can answer (the secret), a
// damaged store, another refusal, or a server that could not be reached.
import { DamagedStoreError } from '../../../shared/client/indexeddb-stores.ts'
import { refusalRemedy } from '../../../shared/client/refusals.ts'
import type { ErrorCode } from '../../../shared/protocol/frames.ts'
import type { JoinFailure } from './copy.ts'

/** Server refusals are told apart by refusals.ts alone; a damaged store only by its error. */
export function joinFailureOf(
  secret: string | undefined,
  refusal: { code: ErrorCode; message: string } | undefined,
  error: Error,
): JoinFailure {
  if (refusal && refusalRemedy(refusal.code) === 'ask_secret') {
    return { kind: 'secret', given: Boolean(secret) }
  }
  if (error instanceof DamagedStoreError) return { kind: 'store', reason: error.message }
  if (refusal) return { kind: 'refused', code: refusal.code, message: refusal.message }
  return { kind: 'unreachable', reason: error.message }
}
