// What a server refusal asks of the user, decided once for the engine and both views: answer with
// the room secret, choose another name, or give up on this join. Pure; knows nothing of views.
import type { ErrorCode, ErrorFrame } from '../protocol/frames.ts'

export type RefusalRemedy = 'ask_secret' | 'ask_name' | 'give_up'

const REMEDIES: Partial<Record<ErrorCode, RefusalRemedy>> = {
  bad_secret: 'ask_secret',
  name_taken: 'ask_name',
  name_invalid: 'ask_name',
  name_reserved: 'ask_name',
  name_confusable: 'ask_name',
  // Another name will not help until the wait is over, but the one the key holds will.
  name_limited: 'ask_name',
  // Invite-only: the name may be one this key holds already, or the one the invite is for.
  invite_required: 'ask_name',
  invite_invalid: 'ask_name',
}

/** The refusals of `hello` a person can answer by trying again with other input. */
export function refusalRemedy(code: ErrorCode): RefusalRemedy {
  return REMEDIES[code] ?? 'give_up'
}

/** Whether this refusal ends the attempt to join (the engine rejects `connect()` with it). */
export function refusesJoin(code: ErrorCode): boolean {
  return refusalRemedy(code) !== 'give_up'
}

/** The server's answers that mean a commit this client sent was not taken. */
export const COMMIT_NOT_TAKEN: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'stale_epoch',
  'unrequested_commit',
  'bad_commit',
  'commit_mismatch',
  'wrong_leaf',
  'key_mismatch',
  'bad_signature',
])

/**
 * The server's answers that may mean a message this client sent was dropped. They do not say
 * which one, so every message still on the wire is reported failed until the log shows it.
 * (`not_ready` is not one: what is sent before `ready` is sent again after `resumed`.)
 */
const SEND_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'not_in_group',
  'rate_limited',
  'unavailable',
  'frame_too_large',
  'bad_frame',
])

/**
 * Whether an error may be the refusal of a message on the wire (see SEND_REFUSALS). One the
 * server says is about another frame (a device listing refused for rate) is not: it must not fail
 * messages that are on their way.
 */
export function mayRefuseMessages(frame: ErrorFrame): boolean {
  return SEND_REFUSALS.has(frame.code) && (frame.about === undefined || frame.about === 'app')
}
