// The server's metrics: what the room holds now (read at each scrape), what went out on each
// transport, and what the event log's events count — refusals by code, commits and their latency.
// Counts and sizes only, like the event log.
import type { MaybePromise } from '../room/ports.ts'
import type { RoomCensus } from '../room/room.ts'
import { watchEventLoopLag } from './event-loop-lag.ts'
import type { EventSink } from './events.ts'
import { createMetricsRegistry } from './metrics.ts'

export type Transport = 'wss' | 'tls'

/** Frames handed to sockets, counted where the transports write them. */
export interface TrafficMeter {
  sent(transport: Transport, frames: number, bytes: number): void
}

/** The room's log as the metrics read it; `bytes` where the store keeps that count. */
export interface LogSize {
  head(): MaybePromise<number>
  oldest(): MaybePromise<number>
  bytes?(): MaybePromise<number>
}

export interface ServerMetrics {
  /** Counts what the event log is told. */
  readonly events: EventSink
  readonly traffic: TrafficMeter
  /** The Prometheus text exposition. */
  render(): Promise<string>
  stop(): void
}

/** From a commit-request to its commit: a member's MLS work plus a round trip, up to the timeout. */
const COMMIT_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export function createServerMetrics(census: () => RoomCensus, log: LogSize): ServerMetrics {
  const registry = createMetricsRegistry()
  const lag = watchEventLoopLag()
  const sent = { wss: { frames: 0, bytes: 0 }, tls: { frames: 0, bytes: 0 } }
  const transports = ['wss', 'tls'] as const

  registry.gauge('chatbox_connections', 'Open connections on this instance, by transport.', () =>
    transports.map((transport) => ({
      labels: { transport },
      value: census().connections[transport],
    })),
  )
  registry.gauge('chatbox_members_connected', 'Members admitted on this instance.', () => [
    { value: census().membersHere },
  ])
  registry.gauge('chatbox_members_online', 'Members online in the room, on any instance.', () => [
    { value: census().membersOnline },
  ])
  registry.gauge('chatbox_group_epoch', "The MLS group's epoch; absent without a group.", () => {
    const { group } = census()
    return group ? [{ value: group.epoch }] : []
  })
  registry.gauge('chatbox_group_size', 'Members of the MLS group; 0 without a group.', () => [
    { value: census().group?.size ?? 0 },
  ])
  registry.counterFrom(
    'chatbox_deliveries_total',
    'Frames sent to connections on this instance, by transport.',
    () => transports.map((transport) => ({ labels: { transport }, value: sent[transport].frames })),
  )
  registry.counterFrom(
    'chatbox_delivered_bytes_total',
    'Bytes of frame text sent to connections on this instance, by transport.',
    () => transports.map((transport) => ({ labels: { transport }, value: sent[transport].bytes })),
  )
  registry.gauge('chatbox_log_entries', "Entries the room's log holds.", async () => {
    const [head, oldest] = await Promise.all([log.head(), log.oldest()])
    return [{ value: Math.max(0, head - oldest + 1) }]
  })
  registry.gauge('chatbox_log_bytes', "Bytes of the frames the room's log holds.", async () =>
    log.bytes ? [{ value: await log.bytes() }] : [],
  )
  const refusals = registry.counter('chatbox_refusals_total', 'Refusals, by code.')
  const commits = registry.counter('chatbox_commits_total', 'Commits, by outcome.')
  const latency = registry.histogram(
    'chatbox_commit_latency_seconds',
    'From a commit-request being sent to its commit being accepted.',
    COMMIT_LATENCY_BUCKETS,
  )
  const joins = registry.counter('chatbox_joins_total', 'Members admitted on this instance.')
  const leaves = registry.counter(
    'chatbox_leaves_total',
    'Members gone from this instance, by reason.',
  )
  const errors = registry.counter('chatbox_errors_total', 'Server faults, by where they happened.')
  registry.gauge(
    'chatbox_event_loop_lag_seconds',
    'The worst delay of the event loop over the last 5 seconds.',
    () => [{ value: lag.worstMs() / 1000 }],
  )

  return {
    events(event) {
      switch (event.event) {
        case 'refused':
          refusals.inc({ code: event.code })
          return
        case 'commit_refused':
          refusals.inc({ code: event.code })
          commits.inc({ outcome: 'refused' })
          return
        case 'commit_accepted':
          commits.inc({ outcome: 'accepted' })
          latency.observe(event.latencyMs / 1000)
          return
        case 'join':
          joins.inc()
          return
        case 'leave':
          leaves.inc({ reason: event.reason })
          return
        case 'error':
          errors.inc({ where: event.where })
          return
      }
    },
    traffic: {
      sent(transport, frames, bytes) {
        const counts = sent[transport]
        counts.frames += frames
        counts.bytes += bytes
      },
    },
    render: () => registry.render(),
    stop: () => lag.stop(),
  }
}
