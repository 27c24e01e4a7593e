// Every error code the server may send, each a refusal a client can tell apart and explain.
import * as v from 'valibot'

export const ERROR_CODES = [
  'bad_json',
  'bad_frame',
  'frame_too_large',
  'rate_limited',
  'too_many_errors',
  'not_ready',
  'unexpected_frame',
  'name_invalid',
  'name_reserved',
  'name_taken',
  'name_confusable',
  'name_limited',
  'bad_secret',
  'auth_failed',
  'auth_timeout',
  'resume_gap',
  'resume_ahead',
  'stale_epoch',
  'not_in_group',
  'unrequested_commit',
  'bad_group_info',
  'bad_key_package',
  'bad_commit',
  'commit_mismatch',
  'wrong_leaf',
  'key_mismatch',
  'bad_signature',
  'rejoin_limited',
  'slow_consumer',
  'replaced',
  'unavailable',
  'going_away',
  /** The admin banned this identity key. */
  'banned',
  /** The admin freed this name for another key; this key no longer holds it. */
  'released',
  /** The room is invite-only and this name is not bound yet: ask the admin for an invite. */
  'invite_required',
  /** The invite was used already, has expired, or is for another name. */
  'invite_invalid',
  /** No device of this name waits with that code: mistyped, used already, or expired. */
  'link_invalid',
  /** The new device was not approved in time, or the name is not bound. */
  'link_expired',
  /** The name has as many devices as a person may link, or the device could not be linked. */
  'device_refused',
  /** Another device of the same person unlinked this one: its key is refused from now on. */
  'unlinked',
] as const
export const ErrorCodeSchema = v.picklist(ERROR_CODES)
export type ErrorCode = v.InferOutput<typeof ErrorCodeSchema>
