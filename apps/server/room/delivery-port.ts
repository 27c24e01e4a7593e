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
  /** Sends to the member's connection (the device with its key), if it is online here. */
  readonly sendTo: (member: Member, frame: ServerFrame) => void
  /** Members online (each device apart), earliest admitted first. */
  readonly online: () => Member[]
  /** Hands an accepted commit, already logged, to every member. */
  readonly broadcast: (entry: LoggedEntry) => void
  /** The operator's event log: commits accepted and refused, refusals, blame; never content. */
  readonly events?: EventSink
  /** The group changed (founded, committed, ended): rooms let only its members send messages. */
  readonly groupChanged?: (status: GroupStatus | null) => void
  /** These names joined the group (its founder, or added by a commit): their bindings are in use. */
  readonly joined?: (members: Member[]) => void
}

export interface Delivery extends Omit<DeliveryService, 'expel' | 'unlinkDevice'> {
  status(): GroupStatus | null
  /** Has every leaf of the name removed by the next commit, whatever its grace (the admin's word). */
  remove(name: string): void
  /** Has this device's leaf removed by the next commit, whatever its grace: it was unlinked. */
  removeDevice(member: Member): void
  memberOnline(member: Member): void
  memberOffline(member: Member, reason: LeaveReason): void
}
