// The states of this client's place in the room's MLS group (membership.ts drives them).
import type { ClientState, OwnKeyPackage } from './mls.ts'

export type MembershipState =
  | { readonly kind: 'outside' }
  | { readonly kind: 'joining'; readonly keyPackage: OwnKeyPackage }
  /** It refused a group holding a key the user does not trust: rejoins once they accept it. */
  | { readonly kind: 'held-out' }
  | {
      readonly kind: 'member'
      readonly group: ClientState
      /** The last log entry applied to `group`. */
      readonly lastSeq: number
      /** Our own commit, sent: merged only when the log shows the server took it. */
      readonly pendingCommit?: {
        readonly epoch: number
        readonly commit: string
        readonly state: ClientState
      }
    }
