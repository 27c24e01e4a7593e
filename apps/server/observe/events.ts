// What the server tells its operator, one event at a time, as valibot schemas: joins, leaves,
// refusals, commits, lockouts, admin actions and errors. An event holds names, codes, transports,
// reasons, epochs, counts and (for refusals) addresses: never a message, a file name, a secret or
// key material, which is why no field here takes free text from a client. No Bun, no I/O.
import * as v from 'valibot'
import { ErrorCodeSchema, LeaveReasonSchema } from '../../../shared/protocol/frames.ts'
import { NAME_PATTERN } from '../../../shared/protocol/limits.ts'

/** Only names the server bound or checked: never what a client typed before it was checked. */
const Name = v.pipe(v.string(), v.regex(NAME_PATTERN))
const Count = v.pipe(v.number(), v.integer(), v.minValue(0))
const TransportSchema = v.picklist(['wss', 'tls'])

/**
 * Codes a refusal can carry: the protocol's error codes, and the web port's own refusals, which
 * are answered over HTTP before any frame.
 */
export const RefusalCodeSchema = v.union([ErrorCodeSchema, v.picklist(['origin_not_allowed'])])
export type RefusalCode = v.InferOutput<typeof RefusalCodeSchema>

/** Where a server fault happened. */
export const ErrorPlaceSchema = v.picklist(['room', 'store', 'redis', 'delivery', 'web'])

/** What an admin command did; the admin commands emit these (one event per action). */
export const AdminActionSchema = v.picklist(['release', 'ban', 'unban', 'invite', 'invite-used'])

export const ServerEventSchema = v.variant('event', [
  v.object({ event: v.literal('join'), name: Name, transport: TransportSchema }),
  v.object({
    event: v.literal('leave'),
    name: Name,
    transport: TransportSchema,
    reason: LeaveReasonSchema,
  }),
  v.object({
    event: v.literal('refused'),
    code: RefusalCodeSchema,
    /** Whether the connection was closed with it. */
    fatal: v.boolean(),
    /** The name it claimed or holds, once checked against the rules. */
    name: v.optional(Name),
    transport: v.optional(TransportSchema),
    address: v.optional(v.string()),
  }),
  v.object({
    event: v.literal('commit_accepted'),
    committer: Name,
    /** The epoch the commit moved the group to. */
    epoch: Count,
    adds: Count,
    removes: Count,
    /** Members of the group after it. */
    size: Count,
    /** From the commit-request being sent to the commit being accepted. */
    latencyMs: v.pipe(v.number(), v.minValue(0)),
  }),
  v.object({
    event: v.literal('commit_refused'),
    committer: Name,
    /** The epoch the commit claimed; 0 for a group founded with a GroupInfo. */
    epoch: Count,
    code: ErrorCodeSchema,
  }),
  v.object({ event: v.literal('group_founded'), founder: Name }),
  v.object({
    event: v.literal('group_ended'),
    epoch: Count,
    /** 'poisoned': only members blamed for an unusable commit could commit; 'abandoned': all gone. */
    reason: v.picklist(['poisoned', 'abandoned']),
  }),
  v.object({
    event: v.literal('commit_blamed'),
    /** Who said it could not process the commit. */
    reporter: Name,
    committer: Name,
    seq: Count,
  }),
  v.object({
    event: v.literal('secret_lockout'),
    /** The address, or its IPv6 /64. */
    address: v.string(),
    misses: Count,
    lockoutSeconds: Count,
    /** Hellos from there refused while it was locked out, since its last line. */
    refusedMeanwhile: Count,
    /** Lockouts of other addresses not logged, to keep the log from flooding. */
    unlogged: Count,
  }),
  v.object({ event: v.literal('admin'), action: AdminActionSchema, name: v.optional(Name) }),
  v.object({
    event: v.literal('error'),
    where: ErrorPlaceSchema,
    /** The error's class, and its code when it has one (`ERR_REDIS_CONNECTION_CLOSED`). */
    error: v.string(),
    /**
     * The first line of its message with anything that looks like key material or ciphertext
     * (long base64url runs) cut out; the server never holds plaintext.
     */
    detail: v.optional(v.string()),
  }),
  v.object({
    event: v.literal('suppressed'),
    /** The kind of event whose lines were left out. */
    kind: v.string(),
    count: Count,
  }),
  /** The banner `bun run serve` prints, as one event for a log shipper reading json lines. */
  v.object({
    event: v.literal('started'),
    web: v.string(),
    terminal: v.string(),
    caCertificate: v.string(),
    caValidUntil: v.string(),
    caSha256: v.string(),
    /** Whether the certificates were made at this start; with why, when the CA was replaced. */
    newCertificates: v.boolean(),
    newCaBecause: v.optional(v.string()),
    /** The data directory, or the Redis URL without its password and this instance's name. */
    store: v.string(),
    roomSecret: v.boolean(),
    inviteOnly: v.boolean(),
  }),
  v.object({ event: v.literal('stopping'), signal: v.string() }),
])
export type ServerEvent = v.InferOutput<typeof ServerEventSchema>
export type ServerEventKind = ServerEvent['event']

/** Where events go: the event log, and the metrics that count them. */
export type EventSink = (event: ServerEvent) => void

/** A sink that drops everything, for parts run without an operator (unit tests). */
export const ignoreEvents: EventSink = () => {}

/** Both sinks, in order. */
export function teeEvents(...sinks: readonly EventSink[]): EventSink {
  return (event) => {
    for (const sink of sinks) sink(event)
  }
}

/** Base64url runs this long are keys, signatures or ciphertext, never something to log. */
const OPAQUE_RUN = /[A-Za-z0-9_-]{32,}/g
const MAX_DETAIL = 200

/** An error as an event: its class and code, and its first line with opaque runs cut out. */
export function errorEvent(
  where: v.InferOutput<typeof ErrorPlaceSchema>,
  error: unknown,
): ServerEvent {
  const code = (error as { code?: unknown } | undefined)?.code
  const name = error instanceof Error ? error.name : typeof error
  const message = error instanceof Error ? error.message : String(error)
  const detail = (message.split('\n')[0] ?? '').replace(OPAQUE_RUN, '…').slice(0, MAX_DETAIL)
  return {
    event: 'error',
    where,
    error: typeof code === 'string' ? `${name} ${code}` : name,
    ...(detail ? { detail } : {}),
  }
}
