// The one error the engine throws at its views: a code they can act on, and for a refusal the
// server's own code. Knows nothing else.
import type { ErrorCode } from '../protocol/frames.ts'

export type ChatErrorCode =
  | 'not_connected'
  | 'not_in_group'
  | 'key_change_unaccepted'
  | 'empty'
  | 'too_long'
  | 'bad_file'
  | 'file_too_large'
  | 'unknown_member'
  /** No failed message of this session has that id (to retry). */
  | 'unknown_message'
  /** Shown as pending, then it failed: the `delivery` event already told the views why. */
  | 'send_failed'
  | 'refused'
  /** What was typed is not a link code at all. */
  | 'link_code'
  /** The server offered a device that does not show the code typed: nothing was approved. */
  | 'link_mismatch'
  /** The server answered a device request with something else. */
  | 'protocol'

export class ChatError extends Error {
  constructor(
    readonly code: ChatErrorCode,
    message: string,
    /** For 'refused': the server's error code (name_taken, bad_secret, …); see refusals.ts. */
    readonly serverCode?: ErrorCode,
  ) {
    super(message)
  }
}
