// Where a room's shared state lives in Redis, and how many of the transient events it keeps.

/** One room per Redis database; the prefix keeps it apart from anything else stored there. */
export const KEYS = {
  /** The last sequence number handed out. */
  head: 'chatbox:head',
  /** STREAM of logged frames; entry id `<seq>-0`, field `f` holds the frame as sent. */
  log: 'chatbox:log',
  /** LIST, oldest first, one `<seq> <bytes> <ms>` per logged entry: what retention trims by. */
  logSizes: 'chatbox:log-sizes',
  /** The bytes of the entries `logSizes` lists. */
  logBytes: 'chatbox:log-bytes',
  /** The MLS group record as JSON; changed only by compare-and-set scripts. */
  group: 'chatbox:group',
  /** HASH: case-folded name → the identity key bound to it. */
  identities: 'chatbox:identities',
  /** HASH: name skeleton (shared/protocol/names.ts) → the case-folded name bound with it. */
  nameSkeletons: 'chatbox:name-skeletons',
  /** ZSET: `<case-folded name> <skeleton>` of bindings not yet used in the group → bound at (ms). */
  unconfirmedNames: 'chatbox:names-unconfirmed',
  /**
   * HASH: case-folded name → `<bound at> <first used in the group, or -> <name as spelled>` (names
   * hold no spaces). Bindings from before it was kept have none.
   */
  nameDetails: 'chatbox:name-details',
  /**
   * HASH: case-folded name → `{ of, devices }` as JSON: the devices linked to the name while it is
   * bound to the key `of`, each `{ identityKey, links, linkedAt }`.
   */
  devices: 'chatbox:devices',
  /** HASH: a new device's key → its post while it waits to be linked (room/link-board.ts), JSON. */
  links: 'chatbox:links',
  /** HASH: device key unlinked from a name → that case-folded name. */
  unlinkedDevices: 'chatbox:unlinked-devices',
  /** HASH: identity key the admin banned → the case-folded name it held then. */
  bans: 'chatbox:bans',
  /** HASH: digest of an invite code → `<case-folded name> <expires at> <name as spelled>`. */
  invites: 'chatbox:invites',
  /** Set once the bindings from before skeletons were kept have theirs in `nameSkeletons`. */
  namesMigrated: 'chatbox:names-migrated',
  /** STREAM of what is not logged: presence, Delivery Service requests, frames for one member. */
  events: 'chatbox:events',
  /** HASH: identity key → { name, identityKey, instance } of who is online (each device), and where. */
  presence: 'chatbox:presence',
  /** ZSET: instance id → its last heartbeat, in Redis's own clock (milliseconds). */
  instances: 'chatbox:instances',
  /** The instance that runs the Delivery Service, with a lease that expires. */
  leader: 'chatbox:leader',
  /** A counter written only so that WAIT covers what was read before it (replication.ts). */
  replicationProbe: 'chatbox:replication-probe',
} as const

/** Events are read at once by every instance; this many cover any reconnect after a blip. */
export const EVENTS_KEPT = 10_000
