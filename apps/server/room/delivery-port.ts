// What the Delivery Service is given and what it offers besides the room's port: the backend that
// runs it (one process, or the leader of several) wires these. No sockets, no stores' internals.
import type {
  GroupStatus,
  LeaveReason,
  Member,
  ServerFrame,
} from '../../../shared/protocol/frames.ts'
import type { EventSink } from '../observe/events.ts'
import type { DeliveryService, GroupRecord, GroupStore, LoggedEntry } from './ports.ts'

export interface DeliveryOptions {
  readonly store: GroupStore
  readonly initialGroup: GroupRecord | null
  /** Members away this long (not after /quit, which is at once) are removed from the group. */
  readonly leaveGraceMs: number
  /** A committer or founder that has not answered by then is passed over for the next. */
  readonly commitTimeoutMs: number
  readonly now: () => number
  /** Sends to the named member's connection, if it is online here. */
  readonly sendTo: (name: string, frame: ServerFrame) => void
  /** Names of members online here, earliest admitted first. */
  readonly online: () => string[]
  /** Hands an accepted commit, already logged, to every member. */
  readonly broadcast: (entry: LoggedEntry) => void
  /** The operator's event log: commits accepted and refused, refusals, blame; never content. */
  readonly events?: EventSink
  /** The group changed (founded, committed, ended): rooms let only its members send messages. */
  readonly groupChanged?: (status: GroupStatus | null) => void
  /** These names joined the group (its founder, or added by a commit): their bindings are in use. */
  readonly joined?: (members: Member[]) => void
}

export interface Delivery extends Omit<DeliveryService, 'expel'> {
  status(): GroupStatus | null
  /** Has the name's leaf removed by the next commit, whatever its grace (the admin's word). */
  remove(name: string): void
  memberOnline(name: string): void
  memberOffline(name: string, reason: LeaveReason): void
}
