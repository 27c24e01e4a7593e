// One instance's backend for a room shared through Redis: the Redis stores, a fan-out that follows
// the log and events streams, the shared presence book, heartbeats with the leader lease, and the
// Delivery Service on whichever instance holds it. It wires those parts; each lives in its own
// file. No sockets here: the room above it is the same room that runs alone on bun:sqlite.
import { RedisClient } from 'bun'
import type { Limits } from '../../../shared/protocol/limits.ts'
import type { Fanout, LocalMembers, RoomBackend, RoomLog } from '../room/ports.ts'
import { type ClusterEvent, ClusterEventSchema, PresenceRecordSchema } from './events.ts'
import { type Follower, followStreams } from './follower.ts'
import { startHeartbeat } from './heartbeat.ts'
import { KEYS } from './keys.ts'
import { createLeader } from './leader.ts'
import { createClusterLink } from './link.ts'
import { createRedisPresence } from './presence.ts'
import { createRedisLinkBoard } from './redis-links.ts'
import { createRedisStores } from './redis-store.ts'
import { isTlsUrl, redisTls, tlsFailure } from './redis-tls.ts'
import { createReplicaWaiter, replicasHoldReads } from './replication.ts'
import { HashValuesReply, parseStored, query, StreamEntriesReply } from './replies.ts'
import { RETIRE } from './scripts.ts'

export interface RedisClusterOptions {
  readonly url: string
  readonly limits: Limits
  /** This instance's name in Redis; random by default. */
  readonly instance?: string
  /** How often this instance says it is alive and renews the lease. */
  readonly heartbeatMs?: number
  /** An instance silent this long is taken for dead: its members are announced as left. */
  readonly instanceTimeoutMs?: number
  /** How long the leader's lease lasts without renewal. */
  readonly leaseMs?: number
  readonly now?: () => number
  readonly reportError?: (error: unknown) => void
  /** For a rediss:// URL: the CA (PEM) Redis's certificate must chain to; the system's if unset. */
  readonly ca?: string
  /** Replicas that must hold a logged entry before it is acknowledged or shown (WAIT); 0: none. */
  readonly waitReplicas?: number
  /** How long an append waits for them before it is refused. */
  readonly waitTimeoutMs?: number
}

export interface RedisCluster extends RoomBackend {
  readonly instance: string
  /** Whether this instance runs the Delivery Service now. */
  leads(): boolean
  /** Writes what is pending, leaves the set of instances, hands back the lease, disconnects. */
  close(): Promise<void>
}

export class RedisUnreachableError extends Error {}

/** Redis's TLS certificate was refused: a wrong CA or host, never a reason to try without TLS. */
export class RedisTlsError extends RedisUnreachableError {}

/** Fewer replicas than the wait asks for hold the log. */
export class RedisReplicasError extends RedisUnreachableError {}

export async function openRedisCluster(options: RedisClusterOptions): Promise<RedisCluster> {
  const { limits } = options
  const now = options.now ?? Date.now
  const reportError = options.reportError ?? ((error) => console.error('chatbox (redis):', error))

  // Commands fail at once while Redis is away instead of queueing: the room answers `unavailable`
  // and nothing is acknowledged that Redis has not stored. Both connections reconnect on their own.
  const connection = {
    enableOfflineQueue: false,
    maxRetries: 1_000_000,
    connectionTimeout: 3000,
    ...redisTls(options.ca),
  }
  if (options.ca && !isTlsUrl(options.url)) {
    throw new RedisTlsError(`a CA for Redis needs a rediss:// URL, not ${redactUrl(options.url)}`)
  }
  const command = new RedisClient(options.url, connection)
  // Blocking reads get a connection of their own, so they never hold up commands.
  const reader = new RedisClient(options.url, connection)
  try {
    await Promise.all([command.connect(), reader.connect()])
  } catch (error) {
    command.close()
    reader.close()
    const refused = isTlsUrl(options.url) && (await tlsFailure(options.url, options.ca))
    if (refused) {
      throw new RedisTlsError(
        `Redis's TLS certificate is not trusted: ${refused} (${redactUrl(options.url)}, checked ` +
          `against ${options.ca ? 'the CA given' : "the system's CAs"})`,
      )
    }
    throw new RedisUnreachableError(
      `cannot reach Redis at ${redactUrl(options.url)}: ${(error as Error).message}`,
    )
  }
  const wait = { replicas: options.waitReplicas ?? 0, timeoutMs: options.waitTimeoutMs ?? 1000 }
  const replicas = createReplicaWaiter(command, wait)

  const link = createClusterLink(command, options.instance ?? crypto.randomUUID(), reportError)
  const stores = createRedisStores(command, limits.logRetention, replicas)

  // Where this instance starts reading: what is already logged was delivered by others (a member
  // who missed it resumes), and earlier events are history.
  const [head, lastEvents, online] = await Promise.all([
    stores.log.head(),
    query(command, StreamEntriesReply, 'XREVRANGE', [KEYS.events, '+', '-', 'COUNT', '1']),
    query(command, HashValuesReply, 'HGETALL', [KEYS.presence]),
  ])
  // Reading starts after `head`: were an entry up to it not on the replicas, a failover could
  // give its number to another that this instance would then never deliver.
  const slow = (error: Error) =>
    reportError(
      new Error(`Redis's replicas are slow to confirm its log, trying again: ${error.message}`),
    )
  await replicasHoldReads(replicas, slow).catch((error: Error) => {
    command.close()
    reader.close()
    throw new RedisReplicasError(`Redis's replicas do not hold its log: ${error.message}`)
  })

  let local: LocalMembers | undefined
  const presence = createRedisPresence(
    link,
    online.map((record) => parseStored(PresenceRecordSchema, record)),
  )
  const leader = createLeader({
    link,
    stores,
    presence,
    limits,
    now,
    local: () => local,
  })

  const links = createRedisLinkBoard(command, link)

  let follower: Follower | undefined
  /** Every event is read by every instance, which acts on those meant for it. */
  function onEvent(text: string): void {
    let event: ClusterEvent
    try {
      event = parseStored(ClusterEventSchema, text)
    } catch (error) {
      reportError(new Error(`ignored a malformed event: ${(error as Error).message}`))
      return
    }
    switch (event.type) {
      case 'presence':
        local?.announce(text)
        presence.heard(event)
        return
      case 'displace':
        if (event.instance === link.instance) local?.displace(event)
        return
      case 'direct':
        leader.direct(event)
        return
      case 'ds':
        leader.request(event)
        return
      case 'group':
        local?.groupChanged(event.status)
        return
      case 'leader':
        leader.announced()
        return
      case 'link-settled':
        links.heard(event.identityKey, event.links)
        return
      case 'unlink':
        local?.expelDevice(event.member)
        leader.unlinked(event.member)
        return
      case 'expel':
        local?.expel(event.name, event.reason)
        leader.expelled(event.name)
        return
    }
  }

  const heartbeat = startHeartbeat({
    link,
    heartbeatMs: options.heartbeatMs ?? 500,
    instanceTimeoutMs: options.instanceTimeoutMs ?? 3000,
    leaseMs: options.leaseMs ?? 3000,
    async rejoined() {
      for (const member of local?.list() ?? []) await presence.record(member, now())
    },
    async leased(holds) {
      if (holds && !leader.leads()) await leader.take()
      else if (!holds && leader.leads()) leader.stepDown()
    },
    lost: () => leader.stepDown(),
    quiet: () => follower?.down() === true,
  })
  await heartbeat.first
  // Reading starts once the first heartbeat has said whether this instance leads.
  follower = followStreams({
    link,
    reader,
    eventsCursor: lastEvents[0]?.[0] ?? '0-0',
    delivered: head,
    onEvent,
    onEntry: (wire) => local?.deliver(wire),
    replicated: createReplicaWaiter(reader, wait).reads,
  })

  /** A page of a replay, once the replicas hold it. */
  async function readConfirmed(...page: Parameters<RoomLog['readAfter']>) {
    const entries = await stores.log.readAfter(...page)
    await replicas.reads()
    return entries
  }

  const fanout: Fanout = {
    // The follower hands every instance's entries to this one's members, in log order.
    publishLogged() {},
    publish: (text) => link.track(link.publish(text)),
    subscribe(members) {
      local = members
    },
    deliveredHead: () => follower?.deliveredHead() ?? head,
  }

  let closed: Promise<void> | undefined
  return {
    instance: link.instance,
    identities: stores.identities,
    // A replay shows only what the replicas hold, as the follower does.
    log: wait.replicas === 0 ? stores.log : { ...stores.log, readAfter: readConfirmed },
    groups: stores.groups,
    fanout,
    presence,
    links,
    delivery(members) {
      local = members
      return leader.port()
    },
    leads: () => leader.leads(),
    close() {
      closed ??= (async () => {
        heartbeat.stop()
        leader.stepDown()
        await stores.settled()
        await link.settled()
        link.stop()
        await link.run(RETIRE, [KEYS.instances, KEYS.leader], [link.instance]).catch(() => {})
        reader.close()
        command.close()
        await follower?.done
      })()
      return closed
    },
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return 'the configured URL'
  }
}
