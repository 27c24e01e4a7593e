// Where a client keeps what must outlive a connection — its identity, whom it trusts, its MLS
// group, the messages it showed — as interfaces. Memory, file (Bun) and IndexedDB (browser)
// implementations sit beside.
import * as v from 'valibot'
import { BASE64URL_PATTERN } from '../protocol/base64url.ts'
import { DeviceLinksSchema } from '../protocol/frames.ts'

const Base64url = v.pipe(v.string(), v.regex(BASE64URL_PATTERN))

/** The long-term Ed25519 identity, as bytes: PKCS#8 private key and raw public key, base64url. */
export const StoredIdentitySchema = v.object({
  privateKey: Base64url,
  publicKey: v.pipe(Base64url, v.length(43)),
  createdAt: v.number(),
  /**
   * A linked device's approvals up to its person's first key (shared/crypto/device-links.ts), as
   * the server gave them once a device of the name approved this one; none for a first device.
   */
  links: v.optional(DeviceLinksSchema),
})
export type StoredIdentity = v.InferOutput<typeof StoredIdentitySchema>

export interface IdentityStore {
  load(): Promise<StoredIdentity | undefined>
  save(identity: StoredIdentity): Promise<void>
}

/** What this client believes about one peer name (trust on first use). */
export const TrustRecordSchema = v.object({
  name: v.string(),
  /** The key first seen for this name, or the one the user accepted later. */
  identityKey: v.pipe(Base64url, v.length(43)),
  firstSeen: v.number(),
  /** The user compared safety numbers out of band. */
  verified: v.boolean(),
})
export type TrustRecord = v.InferOutput<typeof TrustRecordSchema>

/** Records are keyed by the case-folded name (`nameKey`). */
export interface TrustStore {
  get(name: string): Promise<TrustRecord | undefined>
  put(record: TrustRecord): Promise<void>
  list(): Promise<TrustRecord[]>
}

/** This client's MLS group state and how far into the room's log it has read. */
export const GroupSnapshotSchema = v.object({
  /** base64url of the MLS group id, to notice that the server's room has a new group. */
  groupId: Base64url,
  /** The last room-log sequence number whose frame is reflected in `state`. */
  lastSeq: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** ts-mls `encodeGroupState` bytes, base64url. */
  state: Base64url,
})
export type GroupSnapshot = v.InferOutput<typeof GroupSnapshotSchema>

export interface GroupStateStore {
  load(): Promise<GroupSnapshot | undefined>
  save(snapshot: GroupSnapshot): Promise<void>
  clear(): Promise<void>
}

/**
 * One message this device showed, kept for the next session: text, or a file's name, size and
 * head (`kept`, base64url: the whole file when it is small, its beginning otherwise).
 */
const HistoryCommon = {
  id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  seq: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  at: v.number(),
  /** The sender MLS authenticated. */
  from: v.string(),
  own: v.boolean(),
  /** The server claimed another sender (shown as a warning, as it was live). */
  claimedBy: v.optional(v.string()),
}

export const HistoryRecordSchema = v.variant('kind', [
  v.object({ kind: v.literal('message'), ...HistoryCommon, text: v.string() }),
  v.object({
    kind: v.literal('file'),
    ...HistoryCommon,
    name: v.string(),
    size: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    /** The sender sent only the file's head. */
    truncated: v.boolean(),
    sha256: v.string(),
    kept: Base64url,
  }),
])
export type HistoryRecord = v.InferOutput<typeof HistoryRecordSchema>

/**
 * One own message still on its way when the device last kept it: reported pending or failed, its
 * payload as the MLS plaintext it encrypts (payload.ts), and, once encrypted, the ciphertext sent
 * with the group and epoch it was made in. After a restart the log showing that ciphertext is the
 * message's acknowledgement, and a resend sends the same bytes, never a second encryption of it.
 */
export const OutgoingRecordSchema = v.object({
  id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  at: v.number(),
  state: v.picklist(['pending', 'failed']),
  reason: v.optional(v.string()),
  plaintext: Base64url,
  made: v.optional(
    v.object({
      ciphertext: Base64url,
      groupId: Base64url,
      epoch: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    }),
  ),
})
export type OutgoingRecord = v.InferOutput<typeof OutgoingRecordSchema>

/** Whose history: a record kept for one name and identity is never shown to another. */
export interface HistoryOwner {
  readonly name: string
  /** The identity public key, base64url. */
  readonly identityKey: string
}

/**
 * Messages shown on this device, per owner, sealed at rest where they persist. Records that cannot
 * be opened (another key, a torn write) are dropped on load: history is a convenience, never a
 * reason to refuse to start.
 */
export interface HistoryStore {
  /** Every record kept for `owner`, oldest first. */
  load(owner: HistoryOwner): Promise<HistoryRecord[]>
  /** Adds one record after the others, without rewriting them. */
  append(owner: HistoryOwner, record: HistoryRecord): Promise<void>
  /** Keeps exactly `records` for `owner` (pruning to the limits). */
  replace(owner: HistoryOwner, records: readonly HistoryRecord[]): Promise<void>
  /** Forgets the history kept for `owner` (not what is still on its way); other owners keep theirs. */
  clear(owner: HistoryOwner): Promise<void>
  /** Own messages on their way when last kept for `owner`, sealed as history is; none: []. */
  loadOutgoing(owner: HistoryOwner): Promise<OutgoingRecord[]>
  /** Keeps exactly `records` as on their way for `owner`, in place of what was kept. */
  keepOutgoing(owner: HistoryOwner, records: readonly OutgoingRecord[]): Promise<void>
}

/** The stores one client uses for one server. */
export interface ClientStores {
  readonly identity: IdentityStore
  readonly trust: TrustStore
  readonly group: GroupStateStore
  readonly history: HistoryStore
}
