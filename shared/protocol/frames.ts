// Every frame on the wire, as valibot schemas: the single source of the protocol's types.
// Both transports carry these same frames; nothing here knows how they are carried.
import * as v from 'valibot'
import { BASE64URL_PATTERN, isCanonicalBase64url } from './base64url.ts'
import {
  MAX_GROUP_INFO_BYTES,
  MAX_KEY_PACKAGE_BYTES,
  MAX_ROSTER_NAMES,
  MAX_SECRET_LENGTH,
  MEMBERS_PAGE,
  NAME_MAX_LENGTH,
  NAME_PATTERN,
} from './limits.ts'

const Base64url = v.pipe(
  v.string(),
  v.regex(BASE64URL_PATTERN, 'not base64url'),
  v.check(isCanonicalBase64url, 'not canonical base64url'),
)
/** An Ed25519 public key: 32 bytes → 43 base64url characters. */
const IdentityKey = v.pipe(v.string(), v.length(43), v.regex(BASE64URL_PATTERN, 'not base64url'))
/** Names are checked against the rules by the room, which answers with a precise error code. */
const Name = v.pipe(v.string(), v.minLength(1), v.maxLength(NAME_MAX_LENGTH * 4))
/**
 * A name the server sends: only one it let in, so a frame with any other (escapes, a newline) is
 * refused before a view could show it. The message never echoes the refused text.
 */
const BoundName = v.pipe(v.string(), v.regex(NAME_PATTERN, 'not a name the server could bind'))
const Seq = v.pipe(v.number(), v.integer(), v.minValue(0))
const Epoch = v.pipe(v.number(), v.integer(), v.minValue(0))
const Timestamp = v.pipe(v.number(), v.integer())
/** An MLS group id: 16 random bytes chosen by the founder. */
const GroupId = v.pipe(v.string(), v.length(22), v.regex(BASE64URL_PATTERN, 'not base64url'))
/** base64url of at most `bytes` bytes. */
const Base64urlOf = (bytes: number) => v.pipe(Base64url, v.maxLength(Math.ceil((bytes * 4) / 3)))
/** An invite code: 16 random bytes, 22 base64url characters. */
export const InviteCode = v.pipe(
  v.string(),
  v.length(22),
  v.regex(BASE64URL_PATTERN, 'not base64url'),
)
/** A SHA-256 digest: 32 bytes → 43 base64url characters. */
const Digest = v.pipe(v.string(), v.length(43), v.regex(BASE64URL_PATTERN, 'not base64url'))

// ---- client → server -------------------------------------------------------------------

export const HelloFrameSchema = v.object({
  type: v.literal('hello'),
  name: Name,
  identityKey: IdentityKey,
  secret: v.optional(v.pipe(v.string(), v.maxLength(MAX_SECRET_LENGTH))),
  /** An admin's one-time invite (`bun run admin invite NAME`): lets this key bind that name. */
  invite: v.optional(InviteCode),
})

/** Ed25519 signature (64 bytes → 86 characters) over `authMessage(nonce, name)`. */
export const AuthFrameSchema = v.object({
  type: v.literal('auth'),
  signature: v.pipe(v.string(), v.length(86), v.regex(BASE64URL_PATTERN, 'not base64url')),
})

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

const Names = v.pipe(v.array(Name), v.maxLength(1000))
const BoundNames = v.pipe(v.array(BoundName), v.maxLength(MAX_ROSTER_NAMES))

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
  adds: Names,
  removes: Names,
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
])
export type ClientFrame = v.InferOutput<typeof ClientFrameSchema>
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
  /** Names whose leaves are in the group, by the accepted commits' claims. */
  roster: BoundNames,
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
  removes: BoundNames,
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
  remove: BoundNames,
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
] as const
export const ErrorCodeSchema = v.picklist(ERROR_CODES)
export type ErrorCode = v.InferOutput<typeof ErrorCodeSchema>

export const ErrorFrameSchema = v.object({
  type: v.literal('error'),
  code: ErrorCodeSchema,
  message: v.string(),
  /** The server closes the connection right after a fatal error. */
  fatal: v.boolean(),
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
])
export type ServerFrame = v.InferOutput<typeof ServerFrameSchema>
export type ErrorFrame = v.InferOutput<typeof ErrorFrameSchema>
export type CommitDeliverFrame = v.InferOutput<typeof CommitDeliverFrameSchema>
/** Frames the room's log holds, each with its sequence number. */
export type LoggedFrame =
  | v.InferOutput<typeof AppDeliverFrameSchema>
  | v.InferOutput<typeof CommitDeliverFrameSchema>

export function errorFrame(code: ErrorCode, message: string, fatal: boolean): ErrorFrame {
  return { type: 'error', code, message, fatal }
}

/** What a member is told when the server's own store failed it; the frame may be sent again. */
export const UNAVAILABLE: ErrorFrame = Object.freeze(
  errorFrame('unavailable', 'the server could not do that just now; try again', false),
)

/** What the client signs to prove it holds the identity key; bound to this nonce and name. */
export function authMessage(nonce: string, name: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`chatbox-auth-v1\n${nonce}\n${name}`)
}
