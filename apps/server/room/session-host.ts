// The room as each member session reaches it (member-session.ts): the shared parts, and the book
// of who is connected here. An interface only.
import type {
  ErrorCode,
  GroupStatus,
  LeaveReason,
  Member,
} from '../../../shared/protocol/frames.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import type { Admission } from './admission.ts'
import type { LinkDesk } from './link-desk.ts'
import type { MemberSession } from './member-session.ts'
import type { DeliveryService, Fanout, IdentityStore, PresenceBook, RoomLog } from './ports.ts'

/** The room as its sessions reach it: shared parts, and the book of who is connected here. */
export interface SessionHost {
  readonly limits: Limits
  readonly now: () => number
  readonly admission: Admission
  readonly log: RoomLog
  readonly fanout: Fanout
  readonly delivery: DeliveryService
  /** New devices waiting to be linked. */
  readonly links: LinkDesk
  /** Each name's devices. */
  readonly identities: IdentityStore
  /** Who is online: `who` pages through it. */
  readonly presence: Pick<PresenceBook, 'page'>
  readonly reportInternalError: (error: unknown) => void
  /** Whether the member is in the MLS group, as the Delivery Service last said. */
  inGroup(member: Member): boolean
  /** Resolves when the group next changes, or after `ms`. */
  rosterChange(ms: number): Promise<void>
  /** Takes a frame of `bytes` from the budget every connection from `address` shares. */
  addressAllows(address: string, bytes: number): boolean
  /** The session refused a frame with `code` (and closed, if `fatal`): for the event log. */
  refused(session: MemberSession, code: ErrorCode, fatal: boolean): void
  /** Makes the session the one connection of `member` here and sends it `ready`. Synchronous. */
  admit(session: MemberSession, member: Member, group: GroupStatus | null): void
  /** The session is over; a member among them leaves for `reason`, or quietly when none is given. */
  release(session: MemberSession, member: Member | undefined, reason: LeaveReason | undefined): void
}
