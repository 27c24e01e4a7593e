// Every size, rate and time bound of the protocol, in one place; knows nothing of sockets.

/** Names: ASCII, a letter first, 3–24 of [A-Za-z0-9_-]; compared case-insensitively. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{2,23}$/
export const NAME_MIN_LENGTH = 3
export const NAME_MAX_LENGTH = 24
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['server', 'system'])

export const DEFAULT_MAX_FILE_BYTES = 1_048_576

/**
 * An MLS KeyPackage with a name credential is about 300 bytes; a few KB leaves room for
 * extensions and refuses the rest, so a commit-request relaying many always fits in a frame.
 */
export const MAX_KEY_PACKAGE_BYTES = 4096

/** A founder's GroupInfo holds one leaf; anything much larger is not one. */
export const MAX_GROUP_INFO_BYTES = 8192

/**
 * KeyPackages a name may send: each asks for a commit (and a member's also removes its old leaf),
 * so a burst of 5, then one per 20 s. Honest clients send one per join or lost state.
 */
export const REJOIN_RATE = { perSecond: 1 / 20, burst: 5, strikes: 0 } as const

/**
 * A committer whose accepted commit a member could not process is not asked to commit again for
 * this long, and its leaf is removed by the next commit (README, End-to-end encryption).
 */
export const BLAME_MS = 10 * 60_000

/** Room secrets and client labels are short; a longer one is a mistake or an attack. */
export const MAX_SECRET_LENGTH = 256

/**
 * Room-log entries kept for `resume`; a member further behind rejoins as a newcomer.
 * MLS commits live in the same log, so this also bounds how long an offline member can catch up.
 */
export const DEFAULT_LOG_RETENTION = 100_000

/** Bytes of MLS framing, the payload header and the JSON envelope around a file's content. */
const FRAME_OVERHEAD_BYTES = 16_384

/**
 * A file travels as one MLS message, base64url inside a JSON frame, so the frame limit follows
 * from the file limit: 4/3 for base64 plus a fixed overhead.
 */
export function frameLimitFor(maxFileBytes: number): number {
  return Math.ceil(((maxFileBytes + FRAME_OVERHEAD_BYTES) * 4) / 3) + FRAME_OVERHEAD_BYTES
}

export interface RateLimit {
  /** Tokens added per second: the sustained frames per second a connection may send. */
  readonly perSecond: number
  /** Bucket size: how many frames may arrive at once after a quiet spell. */
  readonly burst: number
  /** Frames refused for rate within one bucket refill before the connection is closed. */
  readonly strikes: number
}

export interface Limits {
  readonly maxFileBytes: number
  readonly maxFrameBytes: number
  readonly rate: RateLimit
  /** Bytes queued for one slow reader before it is dropped; protects the server's memory. */
  readonly sendQueueBytes: number
  /** A TLS client that has not finished its handshake by then is cut off. */
  readonly handshakeTimeoutSeconds: number
  /** hello → challenge → auth must complete by then. */
  readonly authTimeoutMs: number
  /** A connection that sends nothing (not even ping) for this long is closed. */
  readonly idleTimeoutSeconds: number
  /** Invalid frames tolerated per connection before it is closed. */
  readonly maxInvalidFrames: number
  readonly logRetention: number
  /** A member away this long (not after /quit) is removed from the MLS group by the committer. */
  readonly leaveGraceMs: number
  /** A committer that has not answered a request by then is passed over for the next member. */
  readonly commitTimeoutMs: number
}

export function createLimits(overrides: Partial<Limits> = {}): Limits {
  const maxFileBytes = overrides.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  return {
    maxFileBytes,
    maxFrameBytes: frameLimitFor(maxFileBytes),
    rate: { perSecond: 20, burst: 60, strikes: 100 },
    sendQueueBytes: 8 * 1024 * 1024,
    handshakeTimeoutSeconds: 10,
    authTimeoutMs: 10_000,
    idleTimeoutSeconds: 75,
    maxInvalidFrames: 20,
    logRetention: DEFAULT_LOG_RETENTION,
    leaveGraceMs: 120_000,
    commitTimeoutMs: 5_000,
    ...overrides,
  }
}
