// The messages the bench's processes exchange over Bun's IPC channel: the orchestrator's commands
// to load clients and servers, and their replies. Schemas, so each side checks what it is handed.
import * as v from 'valibot'

const Count = v.pipe(v.number(), v.integer(), v.minValue(0))
const Sparse = v.array(v.tuple([Count, v.number()]))
const Transport = v.picklist(['wss', 'tls'])

/** Event-loop lag of one process over a step: how long its stalls were. */
export const LagSchema = v.object({
  p99Ms: v.number(),
  p999Ms: v.number(),
  maxMs: v.number(),
  /** Wake-ups later than each of lag.ts's STALL_BOUNDS_MS. */
  over: v.array(v.number()),
  /** When the worst of them ended (wall-clock ms), to cut a CPU profile around it. */
  worstAtMs: v.number(),
  /** Stalls over the monitor's bound (lag.ts), with where their time went. */
  stalls: v.array(
    v.object({
      /** When the late timer fired (wall-clock ms). */
      atMs: v.number(),
      lateMs: v.number(),
      /** Of the time since the previous timer: the thread on a core... */
      ranMs: v.number(),
      /** ...and runnable, waiting for one. The rest it slept. */
      waitedMs: v.number(),
      /** The process's other threads on a core meanwhile (its JIT, collector, workers). */
      othersRanMs: v.number(),
      /** The process's major page faults meanwhile: pages it waited to have read from disk. */
      majorFaults: Count,
    }),
  ),
})
export type Lag = v.InferOutput<typeof LagSchema>

export const TargetSchema = v.variant('kind', [
  v.object({ kind: v.literal('reference'), host: v.string(), webPort: Count, ca: v.string() }),
  v.object({
    kind: v.literal('product'),
    host: v.string(),
    webPort: Count,
    termPort: Count,
    ca: v.string(),
    /** Bytes of MLS ciphertext a real 64-byte text message encrypts to. */
    ciphertextBytes: Count,
  }),
])
export type Target = v.InferOutput<typeof TargetSchema>

export const ClientCommandSchema = v.variant('type', [
  v.object({ type: v.literal('setup'), target: TargetSchema, messageBytes: Count }),
  /** Senders: real members (MLS members of the product's room); all of them also receive. */
  v.object({
    type: v.literal('join-members'),
    names: v.array(v.string()),
    transports: v.array(Transport),
    /** The web port each member connects to (instances sharing one room); the target's if absent. */
    webPorts: v.optional(v.array(Count)),
    /** Everyone in the group once all have joined: the wait ends when every member sees it. */
    groupSize: Count,
    /**
     * The run-wide number of this process's first member: with members over several load
     * clients, frames name their sender by it, and every receiver counts gaps per sender.
     */
    firstSender: Count,
  }),
  /** Idle connections: the transport handshake only (TLS and the WebSocket upgrade). */
  v.object({
    type: v.literal('open-idle'),
    count: Count,
    prefix: v.string(),
    concurrency: Count,
  }),
  /** The product's hello → challenge → auth → ready on every idle connection. */
  v.object({ type: v.literal('auth-idle'), concurrency: Count }),
  v.object({ type: v.literal('arm'), step: Count, senders: Count }),
  /** Open loop: `rate` messages per second over all senders of this process, on a fixed clock. */
  v.object({
    type: v.literal('send'),
    step: Count,
    rate: v.number(),
    durationMs: v.optional(Count),
    count: v.optional(Count),
  }),
  v.object({
    type: v.literal('collect'),
    step: Count,
    expectedPerReceiver: Count,
    timeoutMs: Count,
  }),
  /** Closed loop: each round every member sends one message and waits for all of them. */
  v.object({ type: v.literal('bursts'), step: Count, durationMs: Count }),
  /** The client's own event-loop lag since the last ask: its stalls are not the server's. */
  v.object({ type: v.literal('lag') }),
  /** The soak's joins and leaves: room members from a pool of `poolSize`, on a fixed clock. */
  v.object({
    type: v.literal('churn'),
    poolSize: Count,
    perSecond: v.number(),
    durationMs: Count,
    holdMs: Count,
  }),
])
export type ClientCommand = v.InferOutput<typeof ClientCommandSchema>

export const ClientReplySchema = v.variant('type', [
  v.object({ type: v.literal('ok'), ms: v.number() }),
  v.object({ type: v.literal('churned'), joins: Count, failed: Count, slowestJoinMs: v.number() }),
  v.object({ type: v.literal('lag'), lag: LagSchema }),
  v.object({ type: v.literal('opened'), ms: v.number(), opened: Count, failed: Count }),
  v.object({ type: v.literal('sent'), sent: Count, elapsedMs: v.number(), lateMs: v.number() }),
  v.object({
    type: v.literal('collected'),
    receivers: Count,
    delivered: Count,
    expected: Count,
    gaps: Count,
    /** Frames that came after a later one of the same sender: repeated or out of order. */
    outOfOrder: Count,
    closed: Count,
    histogram: Sparse,
    max: v.number(),
    elapsedMs: v.number(),
  }),
  v.object({
    type: v.literal('bursts-done'),
    rounds: Count,
    deliveries: Count,
    elapsedMs: v.number(),
    roundHistogram: Sparse,
    roundMax: v.number(),
    histogram: Sparse,
    max: v.number(),
    closed: Count,
  }),
  v.object({ type: v.literal('failed'), message: v.string() }),
])
export type ClientReply = v.InferOutput<typeof ClientReplySchema>

/** Servers collect garbage on request (memory is read at rest) and report their event-loop lag. */
export const ServerCommandSchema = v.variant('type', [
  v.object({ type: v.literal('gc') }),
  v.object({ type: v.literal('lag') }),
])
export const ServerReplySchema = v.variant('type', [
  v.object({
    type: v.literal('gc-done'),
    heapBytes: v.number(),
    objectCount: Count,
    /** Live objects by type after the collection: what a connection's heap is made of. */
    objectTypeCounts: v.record(v.string(), Count),
  }),
  v.object({ type: v.literal('lag'), lag: LagSchema }),
])
export type ServerReply = v.InferOutput<typeof ServerReplySchema>

/** The first line a server prints on stdout. */
export const ServerReadySchema = v.object({
  pid: Count,
  webPort: Count,
  termPort: v.optional(Count),
})
export type ServerReady = v.InferOutput<typeof ServerReadySchema>
