// The room's view of the world: connections, stores, fan-out, presence and the Delivery Service as
// interfaces, gathered in one backend; the room never imports Bun, Hono, sockets or a database.
import * as v from 'valibot'
import { BASE64URL_PATTERN } from '../../../shared/protocol/base64url.ts'
import type { WireFrame } from '../../../shared/protocol/binary.ts'
import type { DeviceLink } from '../../../shared/protocol/frames.ts'
import {
  type ClientFrame,
  type CommitDeliverFrame,
  type CommitRefusedFrameSchema,
  type CommitSendFrameSchema,
  type ErrorCode,
  type ErrorFrame,
  type GroupStatus,
  GroupStatusSchema,
  type LeaveReason,
  type LoggedFrame,
  type Member,
  type PresenceFrame,
  type ServerFrame,
} from '../../../shared/protocol/frames.ts'
import { MAX_ROSTER_NAMES } from '../../../shared/protocol/limits.ts'
import type { EventSink } from '../observe/events.ts'
import type { LinkBoard } from './link-board.ts'
import type { MembersPage } from './online-book.ts'

export type MaybePromise<T> = T | Promise<T>

/** Where a broadcast goes at once for many members (one `server.publish` for WebSockets). */
export interface BroadcastGroup {
  add(connection: Connection): void
  remove(connection: Connection): void
  publish(wire: WireFrame): void
}

export interface Connection {
  /** Unique for the life of the process; for logs and tests. */
  readonly id: string
  readonly transport: 'wss' | 'tls'
  readonly remoteAddress: string
  /** Members that share a group receive broadcasts through it instead of one send each. */
  readonly broadcastGroup?: BroadcastGroup
  /** Queues one already-encoded frame; the transport drops the connection if its queue is full. */
  send(wire: WireFrame): void
  /** Bytes queued for this connection that the socket has not taken yet. */
  bufferedBytes(): number
  /** Sends a last frame, then closes. */
  close(farewell?: ErrorFrame): void
}

/**
 * 'new': bound now. 'known': bound to this key already (a reconnect), or the key is a device
 * linked to the name. 'conflict': bound to another
 * key. 'confusable': another name with its skeleton (shared/protocol/names.ts) is bound, to any
 * key. 'limited': free, but the claim was made with `mayBind: false`; nothing was bound.
 */
export type ClaimResult = 'new' | 'known' | 'conflict' | 'confusable' | 'limited'

export interface ClaimTerms {
  /** Whether a name not bound yet may be bound now (admission's rate limits); true if not given. */
  readonly mayBind?: boolean
  /**
   * Bindings never confirmed and made before this time are freed before the claim is decided;
   * none are when not given.
   */
  readonly unusedBefore?: number
}

/**
 * Names bound to identity keys on first use, one name to a skeleton. A binding is unconfirmed until
 * its holder is in the group; an unconfirmed one can lapse (`unusedBefore`), a confirmed one stays.
 * Bindings from before confirmation existed count as confirmed.
 */
export interface IdentityStore {
  /** Binds `name` to `identityKey` unless the name, or one that looks like it, is bound already. */
  claim(
    name: string,
    identityKey: string,
    at: number,
    terms?: ClaimTerms,
  ): MaybePromise<ClaimResult>
  /**
   * Marks each member's name as used in the group at `at`: its binding no longer lapses. Only a
   * binding to that member's key, or to the key its device is linked to, is marked; names bound
   * to another key, or to none, are left alone.
   */
  confirm(members: readonly Member[], at: number): MaybePromise<void>
  /** Every binding, for the operator's `bun run admin members`. */
  bindings(): MaybePromise<NameBinding[]>
  /** Frees the name, and its devices, for the next key that claims it; false if it was not bound. */
  release(name: string): MaybePromise<boolean>
  /**
   * Records `device` as another device of the name, approved by `approval.by` (the name's key or
   * one of its devices): the device's links run from that approval up to the name's key.
   */
  linkDevice(
    name: string,
    device: string,
    approval: DeviceLink,
    at: number,
  ): MaybePromise<LinkResult>
  /** The name's devices, its own key first (with no links); none when it is not bound. */
  devices(name: string): MaybePromise<DeviceRecord[]>
  /**
   * Forgets a linked device of the name, and remembers it was unlinked from it; false if it is not
   * one (the name's own key never is).
   */
  unlinkDevice(name: string, device: string): MaybePromise<boolean>
  /** Whether the key was unlinked from the name and not linked to it again since. */
  wasUnlinked(name: string, device: string): MaybePromise<boolean>
  /**
   * Bans the key the name is bound to and every device linked to it; the name's key, or null if
   * the name is not bound.
   */
  ban(name: string, at: number): MaybePromise<string | null>
  /** Lifts the bans of the keys that held this name; false if there were none. */
  unban(name: string): MaybePromise<boolean>
  isBanned(identityKey: string): MaybePromise<boolean>
  /** Keeps an admin's invite until it is taken or expires. */
  addInvite(invite: Invite): MaybePromise<void>
  /**
   * Removes and returns the invite with this digest if it is for `name` and unexpired at `at`;
   * null (and nothing removed) otherwise. Two takers of one invite never both get it.
   */
  takeInvite(codeDigest: string, name: string, at: number): MaybePromise<Invite | null>
}

/**
 * An invite as stored: only the digest of its code (shared/protocol/invites.ts), so whoever reads
 * the store cannot use the invites in it. `name` is as the admin spelled it.
 */
export interface Invite {
  readonly codeDigest: string
  readonly name: string
  readonly expiresAt: number
}

/** A device of a name: its key, its approvals up to the name's key, when it was linked. */
export interface DeviceRecord {
  readonly identityKey: string
  readonly links: readonly DeviceLink[]
  readonly linkedAt: number
}

/**
 * 'unbound': the name has no key. 'not_device': the approver is not one of its devices. 'limit':
 * it has MAX_DEVICES. 'taken': the new key is some name's key or device already.
 */
export type LinkResult =
  | { readonly kind: 'linked'; readonly links: readonly DeviceLink[] }
  | { readonly kind: 'refused'; readonly reason: 'unbound' | 'not_device' | 'limit' | 'taken' }

/** One name's binding as the store holds it. `confirmedAt` is null until used in the group. */
export interface NameBinding {
  readonly name: string
  readonly identityKey: string
  readonly boundAt: number
  readonly confirmedAt: number | null
}

export interface LoggedEntry {
  readonly seq: number
  /**
   * The frame as it was sent, so a replay re-sends the very same bytes: binary, or JSON text for
   * an entry logged before MLS frames travelled as binary.
   */
  readonly wire: WireFrame
}

/** The room's ordered, persisted log of application messages and commits. */
export interface RoomLog {
  /**
   * Assigns the next sequence number and stores the frame stamped with it. Always a promise (a store
   * may batch a turn's appends into one write), settled in sequence order.
   */
  append(frame: UnstampedFrame): Promise<LoggedEntry>
  /**
   * Entries with seq > afterSeq, oldest first: at most `limit` of them, and with `maxBytes` no
   * more text than that beyond the first (a replay holds a bounded amount, whatever entries weigh).
   */
  readAfter(afterSeq: number, limit: number, maxBytes?: number): MaybePromise<LoggedEntry[]>
  /** The last sequence number handed out, 0 for an empty log. */
  head(): MaybePromise<number>
  /** The first sequence number still held, head + 1 when nothing is. */
  oldest(): MaybePromise<number>
  /** The length of the frames held, where the store counts it (for the operator's metrics). */
  bytes?(): MaybePromise<number>
}

/**
 * The room's MLS group as the server tracks it (see delivery.ts): what members are told, and the
 * group's public state (GroupContext, ratchet tree, confirmation tag; shared/mls/public-group.ts)
 * that every next commit is checked against. Stores keep `state` as an opaque string.
 */
export const GroupRecordSchema = v.object({
  ...GroupStatusSchema.entries,
  /** As stored: identity keys, or names in a record from before leaves were keyed (group-records.ts). */
  roster: v.pipe(v.array(v.string()), v.maxLength(MAX_ROSTER_NAMES)),
  state: v.pipe(v.string(), v.minLength(1), v.regex(BASE64URL_PATTERN, 'not base64url')),
})
export type GroupRecord = v.InferOutput<typeof GroupRecordSchema>

/** Persists the group record; every change is a compare-and-set, so two commits never both win. */
export interface GroupStore {
  load(): MaybePromise<GroupRecord | null>
  /** Stores a newly founded group if the room has none; false if it already has one. */
  found(record: GroupRecord): MaybePromise<boolean>
  /**
   * If the stored group is still `expected` (same id and epoch): logs the commit frame and stores
   * `next`, both or neither. Otherwise 'stale'.
   */
  acceptCommit(
    expected: GroupRecord,
    next: GroupRecord,
    frame: Omit<CommitDeliverFrame, 'seq'>,
  ): MaybePromise<LoggedEntry | 'stale'>
  /** Forgets the group if it is still the one named: all its members are gone. */
  dissolve(groupId: string): MaybePromise<void>
}

/** What one instance's room offers the others: its own connections. */
export interface LocalMembers {
  /** Hands a logged entry to every member connected here. */
  deliver(wire: WireFrame): void
  /** Hands a presence frame (a join or leave) to every member here, batched with its turn's. */
  announce(text: string): void
  /** Sends to the member (the device with its key) if it is connected here; false if it is not. */
  sendTo(member: Member, frame: ServerFrame): boolean
  /** Closes the device's connection here without a leave: it connected again elsewhere. */
  displace(member: Member): void
  /** Closes the connections here of every device of the name, with a leave for the admin's reason. */
  expel(name: string, reason: Expulsion): void
  /** Closes this device's connection here, if it has one: another device of its name unlinked it. */
  expelDevice(member: Member): void
  /** The members connected here. */
  list(): Member[]
  /** The group changed (founded, committed, ended): only its members may send messages. */
  groupChanged(status: GroupStatus | null): void
  /** This instance's event log: the Delivery Service reports there while it runs here. */
  readonly events: EventSink
}

/** Carries room events to every instance's members; in one process it is a direct call. */
export interface Fanout {
  /** A logged entry, once stored: every instance hands it to its members in log order. */
  publishLogged(entry: LoggedEntry): void
  /** An event that is not logged: every instance hands it to its members. */
  publish(text: string): void
  subscribe(local: LocalMembers): void
  /**
   * The last logged sequence number handed to this instance's members: one admitted now receives
   * every later entry live.
   */
  deliveredHead(): number
}

/** Who is online in the room on any instance; every change is announced to everyone. */
export interface PresenceBook {
  /** Everyone online, earliest first. */
  list(): Member[]
  /** How many are online. */
  count(): number
  /** At most `limit` of them after the cursor `after` (0: the first), and the next cursor. */
  page(after: number, limit: number): MembersPage
  /**
   * A member admitted here. The book announces a join, or nothing when the same name was online
   * already (a reconnect is quiet), or a leave and a join when only its spelling changed.
   */
  arrive(member: Member, at: number): void
  /** A member gone from here: the book announces its leave. */
  depart(member: Member, reason: LeaveReason, at: number): void
  /** Joins and leaves as announced, in order, from every instance: the Delivery Service follows them. */
  watch(listener: (frame: PresenceFrame) => void): void
}

/**
 * The MLS Delivery Service as the room reaches it (delivery.ts runs it, here or on a leader).
 * Every request names the member it comes from with the key the room authenticated it by.
 */
export interface DeliveryService {
  status(): MaybePromise<GroupStatus | null>
  keyPackage(from: Member, keyPackage: string): MaybePromise<void>
  groupFounded(from: Member, groupInfo: string): MaybePromise<void>
  commit(from: Member, input: CommitInput): MaybePromise<void>
  commitRefused(from: Member, report: CommitRefusal): MaybePromise<void>
  /**
   * The admin's word (`bun run admin ban` or `release`): the member's connection is closed with
   * that reason on whichever instance holds it, and its leaf is removed by the next commit.
   */
  expel(name: string, reason: Expulsion): MaybePromise<void>
  /**
   * Another device of the name unlinked this one: its connection is closed on whichever instance
   * holds it, and its leaf removed by the next commit.
   */
  unlinkDevice(member: Member): MaybePromise<void>
  stop(): void
}

/** Why the admin put a member out: its key was banned, or its name given to a new key. */
export type Expulsion = Extract<LeaveReason, 'banned' | 'released'>

/** What a member put out is told: by the admin, or by another device of its own. */
export const EXPULSION_MESSAGES: Readonly<Record<Expulsion | 'unlinked', string>> = {
  banned: 'the admin banned this key',
  released: 'the admin gave this name to a new key',
  unlinked: 'another device of yours unlinked this one',
}

/** A member's frame for the Delivery Service, as a member session or another instance hands it on. */
export type DeliveryFrame = Extract<
  ClientFrame,
  { type: 'key-package' | 'group-founded' | 'commit' | 'commit-refused' }
>

/** Hands a member's frame to the Delivery Service's method for it. */
export function requestDelivery(
  delivery: Pick<DeliveryService, 'keyPackage' | 'groupFounded' | 'commit' | 'commitRefused'>,
  from: Member,
  frame: DeliveryFrame,
): MaybePromise<void> {
  switch (frame.type) {
    case 'key-package':
      return delivery.keyPackage(from, frame.keyPackage)
    case 'group-founded':
      return delivery.groupFounded(from, frame.groupInfo)
    case 'commit':
      return delivery.commit(from, frame)
    case 'commit-refused':
      return delivery.commitRefused(from, frame)
  }
}

/** Feeds the Delivery Service the room's joins and leaves, as every instance announced them. */
export function followPresence(delivery: {
  memberOnline(member: Member): void
  memberOffline(member: Member, reason: LeaveReason): void
}) {
  return (frame: PresenceFrame): void => {
    const member = { name: frame.name, identityKey: frame.identityKey }
    if (frame.event === 'join') delivery.memberOnline(member)
    else delivery.memberOffline(member, frame.reason)
  }
}

export type CommitInput = Omit<v.InferOutput<typeof CommitSendFrameSchema>, 'type'>
export type CommitRefusal = Omit<v.InferOutput<typeof CommitRefusedFrameSchema>, 'type'>

export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** What a transport holds for one connection: it feeds frames in and says when the socket is gone. */
export interface Session {
  /** A decoded frame, and the length of its text (what byte limits count). */
  receive(frame: ClientFrame, bytes: number): void
  /** A frame the edge could not decode; counts towards closing a misbehaving connection. */
  reject(code: ErrorCode, message: string): void
  /** An error after which nothing more is read (an oversize frame): say why, then close. */
  fail(code: ErrorCode, message: string): void
  /** The transport lost the socket; `reason` is how. */
  closed(reason: LeaveReason): void
}

/** A frame for the log before the log numbered it. */
export type UnstampedFrame = DistributiveOmit<LoggedFrame, 'seq'>

/** The room's three stores, as every backend holds them (sqlite, Redis, memory). */
export interface RoomStores {
  readonly identities: IdentityStore
  readonly log: RoomLog
  readonly groups: GroupStore
}

/**
 * Everything the room reaches outside itself, wired once: the stores, the fan-out to members on
 * every instance, who is online, and the Delivery Service. One process alone or several sharing
 * Redis differ only here.
 */
export interface RoomBackend extends RoomStores {
  readonly fanout: Fanout
  readonly presence: PresenceBook
  /** New devices waiting to be linked, on any instance. */
  readonly links: LinkBoard
  /** The Delivery Service as this instance's room reaches it; called once, by the room. */
  delivery(local: LocalMembers): DeliveryService
  /** Writes what is pending and lets go of every file and connection. */
  close(): Promise<void>
}

export type { ServerFrame }
