// Every size, rate and time bound of the protocol, in one place; knows nothing of sockets.

/** Names: ASCII, a letter first, 3–24 of [A-Za-z0-9_-]; compared case-insensitively. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{2,23}$/
export const NAME_MIN_LENGTH = 3
export const NAME_MAX_LENGTH = 24
/** Names nobody may take, nor anything that looks like them (compared by `nameSkeleton`). */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'server',
  'system',
  'admin',
  'root',
  'chatbox',
  'moderator',
  'operator',
])

/**
 * New names one identity key may bind: 3 at once (a name, then a typo or two), then one an hour.
 * An honest person keeps one name per key; keys cost nothing, so the address limit is the wall.
 */
export const NAME_RATE_PER_KEY: NameRate = { perSecond: 1 / 3600, burst: 3 }

/**
 * New names one address (an IPv6 /64) may bind: 20 at once, a team joining from behind one NAT,
 * then one a minute. One address then squats ~1,440 names a day, freed again unless used.
 */
export const NAME_RATE_PER_ADDRESS: NameRate = { perSecond: 1 / 60, burst: 20 }

/** New name bindings: a burst, then so many a second. Claiming a name one holds costs nothing. */
export interface NameRate {
  readonly perSecond: number
  readonly burst: number
}

/**
 * A name bound but never used in the group (no commit added its holder, who never founded one) is
 * free again after this many days: a squatter's names lapse, a member's are kept for good.
 */
export const DEFAULT_UNUSED_NAME_DAYS = 30

export const DEFAULT_MAX_FILE_BYTES = 1_048_576
/** The largest file limit a server may be configured with (CHATBOX_MAX_FILE_BYTES). */
export const MAX_CONFIGURABLE_FILE_BYTES = 64 * 1024 * 1024

/**
 * An MLS KeyPackage with a name credential is about 300 bytes; a few KB leaves room for
 * extensions and refuses the rest, so a commit-request relaying many always fits in a frame.
 */
export const MAX_KEY_PACKAGE_BYTES = 4096

/** A founder's GroupInfo holds one leaf; anything much larger is not one. */
export const MAX_GROUP_INFO_BYTES = 8192

/**
 * The most names a frame's roster (the MLS group) may list: a bound for parsing, above any room
 * that can form. What bounds a room is the Welcome, which carries the whole ratchet tree (about
 * 230 bytes a member, raw in a binary frame) and must fit the committer's frame: about 6,300
 * members at the default 1 MiB file limit (README, "Costs of MLS here").
 */
export const MAX_ROSTER_NAMES = 10_000

/** Devices one person may link to a name, the first included: each is a leaf of the group. */
export const MAX_DEVICES = 8

/** How long a new device's link code can be used, once. */
export const LINK_CODE_MS = 5 * 60_000

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
 * Wrong room secrets one address (an IPv6 /64) may send, then a lockout that doubles with each
 * further miss: 5, then 1 s, 2 s … 15 min. Misses are remembered for a day, so a guesser gets
 * about 100 guesses a day instead of ~1,500 a second; a person who mistypes waits a second.
 */
export interface SecretGuessLimits {
  readonly freeTries: number
  readonly firstLockoutMs: number
  readonly maxLockoutMs: number
}

export const SECRET_GUESS_LIMITS: SecretGuessLimits = {
  freeTries: 5,
  firstLockoutMs: 1000,
  maxLockoutMs: 15 * 60_000,
}

/** Connections open at once from one address (an IPv6 /64): a team behind one NAT, with room. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 64

/**
 * How much of the room's log is kept for `resume`: entries, bytes and age, whichever bound is
 * reached first. A member further behind rejoins as a newcomer. MLS commits live in the same log,
 * so this also bounds how long an offline member can catch up.
 */
export interface LogRetention {
  readonly entries: number
  readonly bytes: number
  readonly ageMs: number
}

export const DEFAULT_LOG_RETENTION: LogRetention = {
  entries: 100_000,
  bytes: 256 * 1024 * 1024,
  ageMs: 30 * 24 * 3_600_000,
}

/**
 * KeyPackages relayed in one `commit-request`, in base64url characters: the request, and the
 * commit and Welcome that answer it, stay far below any frame limit (at least 16 typical
 * KeyPackages, or 3 of the largest; the rest wait for the next commit).
 */
export const COMMIT_REQUEST_KEY_PACKAGE_CHARS = 16 * 1024

/**
 * What a frame the server sends may exceed the client→server frame limit by: a relayed message
 * gains its sequence number, sender and time, and a Welcome or commit-request its envelope.
 */
export const SERVER_FRAME_HEADROOM_BYTES = 64 * 1024

/** Bytes of MLS framing, the payload header and the JSON envelope around a file's content. */
const FRAME_OVERHEAD_BYTES = 16_384

/**
 * A file travels as one MLS message, base64url inside a JSON frame, so the frame limit follows
 * from the file limit: 4/3 for base64 plus a fixed overhead.
 */
export function frameLimitFor(maxFileBytes: number): number {
  return Math.ceil(((maxFileBytes + FRAME_OVERHEAD_BYTES) * 4) / 3) + FRAME_OVERHEAD_BYTES
}

/**
 * The largest frame a client accepts from any server: what the largest configurable file limit
 * makes, plus the headroom. Memory is only taken as bytes arrive, so a bound this high costs an
 * honest server's clients nothing, and a hostile server could refuse service anyway.
 */
export const MAX_SERVER_FRAME_BYTES =
  frameLimitFor(MAX_CONFIGURABLE_FILE_BYTES) + SERVER_FRAME_HEADROOM_BYTES

/** A byte budget: bytes per second, and how many may arrive at once after a quiet spell. */
export interface ByteRate {
  readonly perSecond: number
  readonly burst: number
}

/** Frames at most this large are paced by the frame rate alone (their bytes are bounded by it). */
export const SMALL_FRAME_BYTES = 8 * 1024

/**
 * Members listed in one `ready`, `members` or `presences` frame: about 50 KB of JSON. A room of
 * more lists the rest only when a client asks (`who`), so a join costs the same at any size.
 */
export const MEMBERS_PAGE = 500

/**
 * Limits.writeBatchMs by default. One batch costs a commit (~40 µs of CPU here) and a write to
 * every member's socket whatever it holds. In paired rounds against the bare relay moving the same
 * bytes (docs/performance.md), server CPU per delivery at 800–6,000 messages a second was
 * 0.95–1.22× the relay's at 1 ms, 0.73–1.08× at 2 ms and 0.63–0.93× at 3 ms; at 5 ms the
 * latency cost sank the knee. A quiet room's messages never wait for it.
 */
export const DEFAULT_WRITE_BATCH_MS = 3

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
  /** Bytes one connection may send, in frames over SMALL_FRAME_BYTES (files, mostly). */
  readonly bytes: ByteRate
  /** What all connections from one address may send together, in frames and in bytes. */
  readonly addressRate: Pick<RateLimit, 'perSecond' | 'burst'>
  readonly addressBytes: ByteRate
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
  /** Room-secret guesses one address may make (SECRET_GUESS_LIMITS). */
  readonly secretGuesses: SecretGuessLimits
  /** Connections open at once from one address; more are told so and closed. */
  readonly maxConnectionsPerAddress: number
  readonly logRetention: LogRetention
  /** Bytes of the log a `resume` may have in flight on one connection before it waits. */
  readonly replayWindowBytes: number
  /** A member away this long (not after /quit) is removed from the MLS group by the committer. */
  readonly leaveGraceMs: number
  /** A committer that has not answered a request by then is passed over for the next member. */
  readonly commitTimeoutMs: number
  /** New names one identity key may bind (NAME_RATE_PER_KEY). */
  readonly nameRatePerKey: NameRate
  /** New names one address, an IPv6 /64, may bind (NAME_RATE_PER_ADDRESS). */
  readonly nameRatePerAddress: NameRate
  /** A binding never used in the group is freed after this long (CHATBOX_UNUSED_NAME_DAYS). */
  readonly unusedNameMs: number
  /** Members listed in `ready` and each `members` page; at most MEMBERS_PAGE (tests use fewer). */
  readonly membersPage: number
  /** How long a new device's link code can be used (LINK_CODE_MS; tests use less). */
  readonly linkCodeMs: number
  /**
   * A busy room's messages are written to the log, and sent, at most this often: fewer, fuller
   * batches for a little latency (CHATBOX_BATCH_MS, DEFAULT_WRITE_BATCH_MS). A quiet room's go out
   * at the end of the turn whatever this is.
   */
  readonly writeBatchMs: number
}

export function createLimits(overrides: Partial<Limits> = {}): Limits {
  const maxFileBytes = overrides.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  return {
    maxFileBytes,
    maxFrameBytes: frameLimitFor(maxFileBytes),
    rate: { perSecond: 20, burst: 60, strikes: 100 },
    // A file a few seconds, and a couple at once: a flood logs a few MB, not 41 MB/s.
    bytes: { perSecond: 256 * 1024, burst: 2 * frameLimitFor(maxFileBytes) },
    // A team behind one NAT shares an address: room for several busy members at once.
    addressRate: { perSecond: 100, burst: 300 },
    addressBytes: { perSecond: 1024 * 1024, burst: 4 * frameLimitFor(maxFileBytes) },
    sendQueueBytes: 8 * 1024 * 1024,
    handshakeTimeoutSeconds: 10,
    authTimeoutMs: 10_000,
    idleTimeoutSeconds: 75,
    maxInvalidFrames: 20,
    secretGuesses: SECRET_GUESS_LIMITS,
    maxConnectionsPerAddress: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    logRetention: DEFAULT_LOG_RETENTION,
    replayWindowBytes: 2 * frameLimitFor(maxFileBytes),
    leaveGraceMs: 120_000,
    commitTimeoutMs: 5_000,
    nameRatePerKey: NAME_RATE_PER_KEY,
    nameRatePerAddress: NAME_RATE_PER_ADDRESS,
    unusedNameMs: DEFAULT_UNUSED_NAME_DAYS * 86_400_000,
    membersPage: MEMBERS_PAGE,
    linkCodeMs: LINK_CODE_MS,
    writeBatchMs: DEFAULT_WRITE_BATCH_MS,
    ...overrides,
  }
}
