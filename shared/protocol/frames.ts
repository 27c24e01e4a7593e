// Every frame on the wire, as valibot schemas: the single source of the protocol's types.
// Both transports carry these same frames; nothing here knows how they are carried.
import * as v from 'valibot'
import {
  DevicesAskFrameSchema,
  DevicesFrameSchema,
  LinkApproveFrameSchema,
  LinkDeviceFrameSchema,
  LinkedFrameSchema,
  LinkFindFrameSchema,
  LinkWaitingFrameSchema,
  UnlinkFrameSchema,
} from './device-frames.ts'
import { type ErrorCode, ErrorCodeSchema } from './error-codes.ts'
import {
  Base64url,
  Base64urlOf,
  BoundName,
  Digest,
  Epoch,
  GroupId,
  IdentityKey,
  InviteCode,
  Name,
  Seq,
  Signature,
  Timestamp,
} from './fields.ts'
import {
  MAX_GROUP_INFO_BYTES,
  MAX_KEY_PACKAGE_BYTES,
  MAX_ROSTER_NAMES,
  MAX_SECRET_LENGTH,
  MEMBERS_PAGE,
} from './limits.ts'

export { type DeviceLink, DeviceLinksSchema } from './device-frames.ts'
export { ERROR_CODES, type ErrorCode, ErrorCodeSchema } from './error-codes.ts'
export { InviteCode }

// ---- client → server -------------------------------------------------------------------

export const HelloFrameSchema = v.object({
  type: v.literal('hello'),
  name: Name,
  identityKey: IdentityKey,
  secret: v.optional(v.pipe(v.string(), v.maxLength(MAX_SECRET_LENGTH))),
  /** An admin's one-time invite (`bun run admin invite NAME`): lets this key bind that name. */
  invite: v.optional(InviteCode),
  /**
   * This key asks to become another device of `name`: it waits, unadmitted, until a device that
   * holds the name approves it. The nonce (16 random bytes) goes into the link code it shows.
   */
  link: v.optional(v.object({ nonce: v.pipe(Base64url, v.length(22)) })),
})

/** Ed25519 signature (64 bytes → 86 characters) over `authMessage(nonce, name)`. */
export const AuthFrameSchema = v.object({ type: v.literal('auth'), signature: Signature })

/** Replays every logged frame after `afterSeq`, then `resumed`. */
export const ResumeFrameSchema = v.object({ type: v.literal('resume'), afterSeq: Seq })

/** An MLS application message; the server sees only this opaque ciphertext. */
export const AppSendFrameSchema = v.object({ type: v.literal('app'), ciphertext: Base64url })

/**
 * "Add me to the group": a newcomer's MLS KeyPackage, or a member's that lost its state (its old
 * leaf is then removed in the same commit). Its credential must be the sender's name and key.
 */
export const KeyPackageSendFrameSchema = v.object({
  type: v.literal('key-package'),
  keyPackage: Base64urlOf(MAX_KEY_PACKAGE_BYTES),
})

/**
 * The answer to `found-request`: this client made a new MLS group, alone in it, at epoch 0. The
 * GroupInfo (with its ratchet tree, signed by the founder) is what the server follows the group
 * from, checking every later commit against it.
 */
export const GroupFoundedFrameSchema = v.object({
  type: v.literal('group-founded'),
  groupInfo: Base64urlOf(MAX_GROUP_INFO_BYTES),
})

/**
 * Leaves are named by their identity keys, not by names: one person may have several devices, each
 * its own leaf with its own key under the same name.
 */
const IdentityKeys = v.pipe(v.array(IdentityKey), v.maxLength(MAX_ROSTER_NAMES))
/**
 * A removed leaf as a logged commit names it: by key, or by name in a commit logged before a name
 * could have several devices (names are at most 24 characters, keys 43, so the two never meet).
 */
const RemovedLeaf = v.union([IdentityKey, BoundName])

/**
 * The answer to `commit-request`: an MLS commit made at `epoch`, as a PublicMessage. The server
 * accepts exactly one per epoch, from the member it asked, and only after checking it: the group,
 * the epoch, the committer's leaf and signature, and that its proposals are exactly `adds` (the
 * KeyPackages it relayed) and `removes`. A Welcome for the added members rides along, so newcomers
 * get it only if the commit wins.
 */
export const CommitSendFrameSchema = v.object({
  type: v.literal('commit'),
  epoch: Epoch,
  commit: Base64url,
  welcome: v.optional(Base64url),
  /** The keys of the KeyPackages it adds, and of the leaves it removes. */
  adds: v.pipe(v.array(IdentityKey), v.maxLength(1000)),
  removes: v.pipe(v.array(IdentityKey), v.maxLength(1000)),
})

export const COMMIT_REFUSAL_REASONS = ['invalid', 'key_change'] as const

/**
 * This client could not take the commit (or the Welcome) logged at `seq` and has left the group:
 * 'invalid' when it failed MLS or the client's own checks, which the server holds against the
 * committer; 'key_change' when a leaf's key differs from the one this user trusts, which is
 * nobody's fault until the user decides. Either way the sender's old leaf is removed.
 */
export const CommitRefusedFrameSchema = v.object({
  type: v.literal('commit-refused'),
  seq: Seq,
  reason: v.picklist(COMMIT_REFUSAL_REASONS),
})

export const LeaveFrameSchema = v.object({ type: v.literal('leave') })

export const PingFrameSchema = v.object({
  type: v.literal('ping'),
  nonce: v.optional(v.pipe(v.number(), v.integer())),
})

/** The next page of who is online, after the cursor `ready` or the last `members` gave. */
export const WhoFrameSchema = v.object({ type: v.literal('who'), after: Seq })

export const ClientFrameSchema = v.variant('type', [
  HelloFrameSchema,
  AuthFrameSchema,
  ResumeFrameSchema,
  AppSendFrameSchema,
  KeyPackageSendFrameSchema,
  GroupFoundedFrameSchema,
  CommitSendFrameSchema,
  CommitRefusedFrameSchema,
  LeaveFrameSchema,
  PingFrameSchema,
  WhoFrameSchema,
  LinkFindFrameSchema,
  LinkApproveFrameSchema,
  DevicesAskFrameSchema,
  UnlinkFrameSchema,
])
export type ClientFrame = v.InferOutput<typeof ClientFrameSchema>
export type ClientFrameType = ClientFrame['type']
const CLIENT_FRAME_TYPES = ClientFrameSchema.options.map((option) => option.entries.type.literal)
export type HelloFrame = v.InferOutput<typeof HelloFrameSchema>

// ---- server → client -------------------------------------------------------------------

export const ChallengeFrameSchema = v.object({ type: v.literal('challenge'), nonce: Base64url })

export const MemberSchema = v.object({ name: BoundName, identityKey: IdentityKey })
export type Member = v.InferOutput<typeof MemberSchema>

/** The room's MLS group as the server knows it, without reading any of it. */
export const GroupStatusSchema = v.object({
  groupId: GroupId,
  /** The epoch the next commit must be made at. */
  epoch: Epoch,
  /** The identity keys of the group's leaves, by the accepted commits' claims. */
  roster: IdentityKeys,
})
export type GroupStatus = v.InferOutput<typeof GroupStatusSchema>

/** What this server accepts from a member: clients size and pace what they send by it. */
export const ServerLimitsSchema = v.object({
  maxFileBytes: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  rate: v.object({
    perSecond: v.pipe(v.number(), v.minValue(0.001)),
    burst: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  }),
  /** Bytes per second, and at once, in frames over SMALL_FRAME_BYTES: files are paced by it. */
  bytes: v.object({
    perSecond: v.pipe(v.number(), v.minValue(1)),
    burst: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  }),
})
export type ServerLimits = v.InferOutput<typeof ServerLimitsSchema>

export const ReadyFrameSchema = v.object({
  type: v.literal('ready'),
  name: BoundName,
  /** The last sequence number in the room's log when this member was admitted. */
  head: Seq,
  /**
   * Who is online, earliest first: everyone in a small room, the first page in a large one (at most
   * MEMBERS_PAGE), so a join costs the server the same whatever the room's size.
   */
  members: v.pipe(v.array(MemberSchema), v.maxLength(MEMBERS_PAGE)),
  /** How many are online, this member included. */
  online: Seq,
  /** The cursor for `who` when more are online than listed; null when all are. */
  next: v.nullable(Seq),
  /** null while the room has no group: the first member to ask founds one. */
  group: v.nullable(GroupStatusSchema),
  limits: ServerLimitsSchema,
})

export const LEAVE_REASONS = [
  'quit',
  'disconnect',
  'timeout',
  'dropped',
  'replaced',
  'shutdown',
  /** The admin banned the member's key (`bun run admin ban`). */
  'banned',
  /** The admin freed the member's name for a new key (`bun run admin release`). */
  'released',
  /** Another device of the same person unlinked this one (`/unlink`). */
  'unlinked',
] as const
export const LeaveReasonSchema = v.picklist(LEAVE_REASONS)
export type LeaveReason = v.InferOutput<typeof LeaveReasonSchema>

export const PresenceFrameSchema = v.variant('event', [
  v.object({
    type: v.literal('presence'),
    event: v.literal('join'),
    name: BoundName,
    identityKey: IdentityKey,
    at: Timestamp,
  }),
  v.object({
    type: v.literal('presence'),
    event: v.literal('leave'),
    name: BoundName,
    identityKey: IdentityKey,
    at: Timestamp,
    reason: LeaveReasonSchema,
  }),
])
export type PresenceFrame = v.InferOutput<typeof PresenceFrameSchema>

/**
 * Joins and leaves of one moment, in order, and how many are online after them: a crowd arriving
 * costs each member one frame, not one a join. In a large room only the count: no events.
 */
export const PresencesFrameSchema = v.object({
  type: v.literal('presences'),
  events: v.pipe(v.array(PresenceFrameSchema), v.maxLength(MEMBERS_PAGE)),
  online: Seq,
})

/** The answer to `who`: the next page of who is online, and the cursor after it. */
export const MembersFrameSchema = v.object({
  type: v.literal('members'),
  members: v.pipe(v.array(MemberSchema), v.maxLength(MEMBERS_PAGE)),
  next: v.nullable(Seq),
})

/** The server stamps sender, sequence and time; a client's claim to any of them is ignored. */
export const AppDeliverFrameSchema = v.object({
  type: v.literal('app'),
  seq: Seq,
  from: BoundName,
  at: Timestamp,
  ciphertext: Base64url,
})

/** An accepted commit; `adds` with the keys the server bound their names to, for members to check. */
export const CommitDeliverFrameSchema = v.object({
  type: v.literal('commit'),
  seq: Seq,
  from: BoundName,
  at: Timestamp,
  epoch: Epoch,
  commit: Base64url,
  adds: v.pipe(v.array(MemberSchema), v.maxLength(1000)),
  /** The keys of the leaves it removed (names, in a commit logged before devices). */
  removes: v.pipe(v.array(RemovedLeaf), v.maxLength(MAX_ROSTER_NAMES)),
})

/**
 * The group this member is in has ended (only members who could not be trusted to commit were
 * left in it): drop it and ask to be added to the next one.
 */
export const GroupEndedFrameSchema = v.object({ type: v.literal('group-ended'), groupId: GroupId })

/** Asks this member to found the room's group (there is none yet, or its members are all gone). */
export const FoundRequestFrameSchema = v.object({ type: v.literal('found-request') })

/** Asks this member, the committer, to make one commit with these adds and removes at `epoch`. */
export const CommitRequestFrameSchema = v.object({
  type: v.literal('commit-request'),
  epoch: Epoch,
  add: v.pipe(v.array(v.object({ name: BoundName, keyPackage: Base64url })), v.maxLength(1000)),
  /** The identity keys of the leaves to remove. */
  remove: IdentityKeys,
})

export const WelcomeDeliverFrameSchema = v.object({
  type: v.literal('welcome'),
  from: BoundName,
  /** The log position of the commit that made this Welcome; read the log after it. */
  seq: Seq,
  welcome: Base64url,
  /** Every leaf of the group after that commit, with the key the server bound each name to. */
  roster: v.pipe(v.array(MemberSchema), v.maxLength(10_000)),
  /**
   * The epoch as the server followed it from the commit (shared/mls/public-group.ts): a Welcome
   * that puts the newcomer anywhere else, such as a copy of the group made for it, is refused.
   */
  epochDigest: Digest,
})

export const ResumedFrameSchema = v.object({ type: v.literal('resumed'), head: Seq })

export const PongFrameSchema = v.object({
  type: v.literal('pong'),
  nonce: v.optional(v.pipe(v.number(), v.integer())),
})

export const ErrorFrameSchema = v.object({
  type: v.literal('error'),
  code: ErrorCodeSchema,
  message: v.string(),
  /** The server closes the connection right after a fatal error. */
  fatal: v.boolean(),
  /**
   * The type of the client's frame this refuses, when it refuses one the server could name: a
   * client waiting on the answer to one request takes no other refusal as that answer.
   */
  about: v.optional(v.picklist(CLIENT_FRAME_TYPES)),
})

export const ServerFrameSchema = v.variant('type', [
  ChallengeFrameSchema,
  ReadyFrameSchema,
  PresenceFrameSchema,
  PresencesFrameSchema,
  MembersFrameSchema,
  AppDeliverFrameSchema,
  CommitDeliverFrameSchema,
  FoundRequestFrameSchema,
  GroupEndedFrameSchema,
  CommitRequestFrameSchema,
  WelcomeDeliverFrameSchema,
  ResumedFrameSchema,
  PongFrameSchema,
  ErrorFrameSchema,
  LinkWaitingFrameSchema,
  LinkDeviceFrameSchema,
  LinkedFrameSchema,
  DevicesFrameSchema,
])
export type ServerFrame = v.InferOutput<typeof ServerFrameSchema>
export type ErrorFrame = v.InferOutput<typeof ErrorFrameSchema>
export type CommitDeliverFrame = v.InferOutput<typeof CommitDeliverFrameSchema>
/** Frames the room's log holds, each with its sequence number. */
export type LoggedFrame =
  | v.InferOutput<typeof AppDeliverFrameSchema>
  | v.InferOutput<typeof CommitDeliverFrameSchema>

export function errorFrame(
  code: ErrorCode,
  message: string,
  fatal: boolean,
  about?: ClientFrameType,
): ErrorFrame {
  return about
    ? { type: 'error', code, message, fatal, about }
    : { type: 'error', code, message, fatal }
}

/** What a member is told when the server's own store failed it; the frame may be sent again. */
export const UNAVAILABLE: ErrorFrame = Object.freeze(
  errorFrame('unavailable', 'the server could not do that just now; try again', false),
)

/** What the client signs to prove it holds the identity key; bound to this nonce and name. */
export function authMessage(nonce: string, name: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`chatbox-auth-v1\n${nonce}\n${name}`)
}
