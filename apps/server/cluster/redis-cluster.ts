// One instance's link to a room shared through Redis: its stores, its fan-out (a reader that
// follows the log and the events streams), the shared presence book with heartbeats, and the
// Delivery Service, which runs on whichever instance holds the leader lease. No sockets here:
// the room below it is the same room that runs alone on bun:sqlite.
import { RedisClient } from 'bun'
import * as v from 'valibot'
import { type Member, MemberSchema, type PresenceFrame } from '../../../shared/protocol/frames.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import { createDelivery, type Delivery, followPresence } from '../room/delivery.ts'
import type {
  DeliveryService,
  Fanout,
  GroupRecord,
  GroupStore,
  IdentityStore,
  LocalMembers,
  PresenceBook,
  RoomLog,
} from '../room/ports.ts'
import { UNAVAILABLE } from '../room/room.ts'
import { type ClusterEvent, ClusterEventSchema, type DeliveryRequest } from './events.ts'
import { EVENTS_KEPT, KEYS } from './keys.ts'
import { createRedisStores, decodeStreamEntry, sendCommand } from './redis-store.ts'
import { ARRIVE, DEPART, HEARTBEAT, RETIRE } from './scripts.ts'

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
  /** Refused commits and blamed committers, while this instance leads; one line each. */
  readonly reportSecurityEvent?: (line: string) => void
}

export interface RedisCluster {
  readonly instance: string
  readonly identities: IdentityStore
  readonly log: RoomLog
  readonly groups: GroupStore
  readonly initialGroup: GroupRecord | null
  readonly fanout: Fanout
  readonly presence: PresenceBook
  /** The Delivery Service as this instance's room reaches it. */
  delivery(local: LocalMembers): DeliveryService
  /** Whether this instance runs the Delivery Service now. */
  leads(): boolean
  /** Writes what is pending, leaves the set of instances, hands back the lease, disconnects. */
  close(): Promise<void>
}

export class RedisUnreachableError extends Error {}

/** A blocking read returns at least this often, so a stop is never kept waiting long. */
const READ_BLOCK_MS = 1000
const READ_BATCH = 1000

export async function openRedisCluster(options: RedisClusterOptions): Promise<RedisCluster> {
  const { limits } = options
  const instance = options.instance ?? crypto.randomUUID()
  const heartbeatMs = options.heartbeatMs ?? 500
  const instanceTimeoutMs = options.instanceTimeoutMs ?? 3000
  const leaseMs = options.leaseMs ?? 3000
  const now = options.now ?? Date.now
  const reportError = options.reportError ?? ((error) => console.error('chatbox (redis):', error))

  // Commands fail at once while Redis is away instead of queueing: the room answers `unavailable`
  // and nothing is acknowledged that Redis has not stored. Both connections reconnect on their own.
  const connection = { enableOfflineQueue: false, maxRetries: 1_000_000, connectionTimeout: 3000 }
  const command = new RedisClient(options.url, connection)
  // Blocking reads get a connection of their own, so they never hold up commands.
  const reader = new RedisClient(options.url, connection)
  try {
    await Promise.all([command.connect(), reader.connect()])
  } catch (error) {
    command.close()
    reader.close()
    throw new RedisUnreachableError(
      `cannot reach Redis at ${redactUrl(options.url)}: ${(error as Error).message}`,
    )
  }

  const stores = createRedisStores(command, limits.logRetention)
  const inFlight = new Set<Promise<unknown>>()
  function track(promise: Promise<unknown>): void {
    inFlight.add(promise)
    promise.then(
      () => inFlight.delete(promise),
      (error) => {
        inFlight.delete(promise)
        if (!stopped) reportError(error)
      },
    )
  }
  const run = (script: string, keys: string[], args: (string | number)[]) =>
    sendCommand(command, 'EVAL', [script, String(keys.length), ...keys, ...args.map(String)])
  const emit = (event: ClusterEvent) =>
    sendCommand(command, 'XADD', [
      KEYS.events,
      'MAXLEN',
      '~',
      String(EVENTS_KEPT),
      '*',
      'f',
      JSON.stringify(event),
    ])

  // Where this instance starts reading: what is already logged was delivered by others (a member
  // who missed it resumes), and earlier events are history.
  const [head, lastEvents, online, initialGroup] = await Promise.all([
    stores.log.head(),
    sendCommand(command, 'XREVRANGE', [KEYS.events, '+', '-', 'COUNT', '1']) as Promise<
      [string, string[]][]
    >,
    sendCommand(command, 'HGETALL', [KEYS.presence]) as Promise<Record<string, string> | string[]>,
    stores.groups.load(),
  ])
  let delivered = head
  let eventsCursor = lastEvents[0]?.[0] ?? '0-0'

  // ---- presence -----------------------------------------------------------------------------

  /** Everyone online on any instance, as the events said; the hash in Redis is the record. */
  const everyone = new Map<string, Member>()
  for (const record of Object.values(pairs(online))) {
    const { name, identityKey } = v.parse(MemberSchema, JSON.parse(record))
    everyone.set(nameKey(name), { name, identityKey })
  }
  const watchers: Array<(frame: PresenceFrame) => void> = []

  function remember(frame: PresenceFrame): void {
    const key = nameKey(frame.name)
    everyone.delete(key)
    if (frame.event === 'join')
      everyone.set(key, { name: frame.name, identityKey: frame.identityKey })
  }

  function recordArrival({ name, identityKey }: Member, at: number): Promise<unknown> {
    const join: PresenceFrame = { type: 'presence', event: 'join', name, identityKey, at }
    const leave = { type: 'presence', event: 'leave', at, reason: 'replaced' }
    return run(
      ARRIVE,
      [KEYS.presence, KEYS.events],
      [
        EVENTS_KEPT,
        nameKey(name),
        JSON.stringify({ name, identityKey, instance }),
        JSON.stringify(join),
        JSON.stringify(leave),
      ],
    )
  }

  const presence: PresenceBook = {
    list: () => [...everyone.values()],
    arrive(member, at) {
      // At once here, so this member's `ready` lists it; the event read back confirms it.
      everyone.delete(nameKey(member.name))
      everyone.set(nameKey(member.name), { name: member.name, identityKey: member.identityKey })
      track(recordArrival(member, at))
    },
    depart({ name, identityKey }, reason, at) {
      everyone.delete(nameKey(name))
      const leave: PresenceFrame = {
        type: 'presence',
        event: 'leave',
        name,
        identityKey,
        at,
        reason,
      }
      track(
        run(
          DEPART,
          [KEYS.presence, KEYS.events],
          [EVENTS_KEPT, nameKey(name), instance, JSON.stringify(leave)],
        ),
      )
    },
    watch(listener) {
      watchers.push(listener)
    },
  }

  // ---- the Delivery Service -----------------------------------------------------------------

  let local: LocalMembers | undefined
  let leader: Delivery | undefined
  /** Requests for the leader are handled one at a time, in the order the stream gave them. */
  let requests: Promise<void> = Promise.resolve()
  /** Key packages of members here that have not been welcomed: a new leader must hear them again. */
  const waiting = new Map<string, { readonly from: Member; readonly keyPackage: string }>()

  /** Sends to a member here at once, or through the events stream to its instance. */
  function sendTo(name: string, frame: Parameters<LocalMembers['sendTo']>[1]): void {
    if (local?.sendTo(name, frame)) {
      if (frame.type === 'welcome') waiting.delete(nameKey(name))
      return
    }
    track(emit({ type: 'direct', to: name, frame }))
  }

  const followAsLeader = (delivery: Delivery) => {
    const follow = followPresence(delivery)
    // One instance stopping is not the room stopping: its members may come back through another
    // instance, or not, so their grace starts as for a dropped connection.
    return (frame: PresenceFrame) =>
      follow(
        frame.event === 'leave' && frame.reason === 'shutdown'
          ? { ...frame, reason: 'dropped' }
          : frame,
      )
  }
  watchers.push((frame) => {
    if (leader) followAsLeader(leader)(frame)
  })

  async function becomeLeader(): Promise<void> {
    const group = await stores.groups.load()
    leader = createDelivery({
      store: stores.groups,
      initialGroup: group,
      leaveGraceMs: limits.leaveGraceMs,
      commitTimeoutMs: limits.commitTimeoutMs,
      now,
      sendTo,
      online: () => presence.list().map((member) => member.name),
      // The log stream carries the commit to every instance, this one included.
      broadcast() {},
      report: options.reportSecurityEvent,
    })
    for (const member of everyone.values()) leader.memberOnline(member.name)
    await emit({ type: 'leader', instance })
  }

  function stepDown(): void {
    leader?.stop()
    leader = undefined
  }

  async function handleRequest(request: DeliveryRequest): Promise<void> {
    if (!leader) return
    const { from, frame } = request
    switch (frame.type) {
      case 'key-package':
        return leader.keyPackage(from, frame.keyPackage)
      case 'group-founded':
        return leader.groupFounded(from, frame.groupInfo)
      case 'commit':
        return leader.commit(from, frame)
      case 'commit-refused':
        return leader.commitRefused(from, frame)
    }
  }

  /** Forwards a member's request to whichever instance leads, after this instance's pending messages. */
  function forward(from: Member, frame: DeliveryRequest['frame']): Promise<unknown> {
    stores.flush()
    return emit({ type: 'ds', from, frame })
  }

  // ---- reading the streams ------------------------------------------------------------------

  function onEvent(text: string): void {
    let event: ClusterEvent
    try {
      event = v.parse(ClusterEventSchema, JSON.parse(text))
    } catch (error) {
      reportError(new Error(`ignored a malformed event: ${(error as Error).message}`))
      return
    }
    switch (event.type) {
      case 'presence':
        remember(event)
        if (event.event === 'leave') waiting.delete(nameKey(event.name))
        local?.deliver(text)
        for (const watcher of watchers) watcher(event)
        return
      case 'displace':
        if (event.instance === instance) local?.displace(event.name)
        return
      case 'direct':
        if (local?.sendTo(event.to, event.frame) && event.frame.type === 'welcome') {
          waiting.delete(nameKey(event.to))
        }
        return
      case 'ds':
        requests = requests.then(() => handleRequest(event)).catch(reportError)
        return
      case 'leader':
        for (const { from, keyPackage } of waiting.values()) {
          track(forward(from, { type: 'key-package', keyPackage }))
        }
        return
    }
  }

  let stopped = false
  let readerDown = false
  async function follow(): Promise<void> {
    while (!stopped) {
      let reply: unknown
      try {
        reply = await reader.send('XREAD', [
          'COUNT',
          String(READ_BATCH),
          'BLOCK',
          String(READ_BLOCK_MS),
          'STREAMS',
          KEYS.events,
          KEYS.log,
          eventsCursor,
          `${delivered}-0`,
        ])
        if (readerDown) {
          readerDown = false
          console.error('chatbox: Redis is back; delivering from where this instance left off')
        }
      } catch (error) {
        if (stopped) return
        if (!readerDown) {
          readerDown = true
          reportError(
            new Error(`lost Redis, reading again once it is back: ${(error as Error).message}`),
          )
        }
        await Bun.sleep(200)
        continue
      }
      const streams = streamsOf(reply)
      // Events first: a join read in the same batch as that member's first message comes before it.
      for (const [id, fields] of streams.get(KEYS.events) ?? []) {
        eventsCursor = id
        onEvent(fields[1] ?? '')
      }
      for (const raw of streams.get(KEYS.log) ?? []) {
        const entry = decodeStreamEntry(raw)
        if (entry.seq <= delivered) continue
        delivered = entry.seq
        local?.deliver(entry.text)
      }
    }
  }

  // ---- heartbeats and the lease -------------------------------------------------------------

  let registered = false
  let heartbeatRunning = false
  /** Since when heartbeats have gone through without a failure (this process's clock). */
  let healthySince: number | undefined
  async function heartbeat(): Promise<void> {
    if (heartbeatRunning || stopped) return
    heartbeatRunning = true
    try {
      const [added, leads] = (await run(
        HEARTBEAT,
        [KEYS.instances, KEYS.presence, KEYS.events, KEYS.leader],
        [
          EVENTS_KEPT,
          instance,
          instanceTimeoutMs,
          leaseMs,
          Math.round(performance.now() - (healthySince ?? performance.now())),
        ],
      )) as [number, number]
      healthySince ??= performance.now()
      if (added === 1 && registered && local) {
        // This instance was silent long enough to be taken for dead (a pause, a partition): its
        // members were announced as left. They are still here, so they arrive again.
        for (const member of local.list()) await recordArrival(member, now())
      }
      registered = true
      if (leads === 1 && !leader) await becomeLeader()
      else if (leads === 0 && leader) stepDown()
    } catch (error) {
      healthySince = undefined
      // Without Redis this instance cannot know it still leads: it stops acting as leader.
      if (leader) stepDown()
      if (!stopped && !readerDown) reportError(error)
    } finally {
      heartbeatRunning = false
    }
  }
  await heartbeat()
  const beat = setInterval(() => void heartbeat(), heartbeatMs)
  const following = follow()

  // ---- the ports ----------------------------------------------------------------------------

  const fanout: Fanout = {
    // The reader hands every instance's entries to this one's members, in log order.
    publishLogged() {},
    publish(text) {
      track(
        sendCommand(command, 'XADD', [
          KEYS.events,
          'MAXLEN',
          '~',
          String(EVENTS_KEPT),
          '*',
          'f',
          text,
        ]),
      )
    },
    subscribe(members) {
      local = members
    },
    deliveredHead: () => delivered,
  }

  function delivery(members: LocalMembers): DeliveryService {
    local = members
    return {
      async status() {
        const group = await stores.groups.load()
        return group && { groupId: group.groupId, epoch: group.epoch, roster: [...group.roster] }
      },
      keyPackage(from, keyPackage) {
        waiting.set(nameKey(from.name), { from, keyPackage })
        forward(from, { type: 'key-package', keyPackage }).catch((error) => {
          reportError(error)
          local?.sendTo(from.name, UNAVAILABLE)
        })
      },
      async groupFounded(from, groupInfo) {
        // The founder is in the group without a Welcome: nothing for a new leader to hear again.
        waiting.delete(nameKey(from.name))
        await forward(from, { type: 'group-founded', groupInfo })
      },
      async commit(from, input) {
        await forward(from, { type: 'commit', ...input })
      },
      async commitRefused(from, report) {
        await forward(from, { type: 'commit-refused', ...report })
      },
      stop: stepDown,
    }
  }

  return {
    instance,
    identities: stores.identities,
    log: stores.log,
    groups: stores.groups,
    initialGroup,
    fanout,
    presence,
    delivery,
    leads: () => leader !== undefined,
    async close() {
      if (stopped) return
      clearInterval(beat)
      stepDown()
      await stores.settled()
      await Promise.allSettled([...inFlight])
      stopped = true
      await run(RETIRE, [KEYS.instances, KEYS.leader], [instance]).catch(() => {})
      reader.close()
      command.close()
      await following
    },
  }
}

/** HGETALL answers a map in RESP3 and a flat list in RESP2. */
function pairs(reply: Record<string, string> | string[]): Record<string, string> {
  if (!Array.isArray(reply)) return reply
  const result: Record<string, string> = {}
  for (let index = 0; index + 1 < reply.length; index += 2) {
    result[reply[index] as string] = reply[index + 1] as string
  }
  return result
}

type RawEntry = [string, string[]]

/** XREAD answers a map of stream → entries in RESP3, a list of [stream, entries] in RESP2. */
function streamsOf(reply: unknown): Map<string, RawEntry[]> {
  if (reply === null || reply === undefined) return new Map()
  if (Array.isArray(reply)) return new Map(reply as [string, RawEntry[]][])
  return new Map(Object.entries(reply as Record<string, RawEntry[]>))
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
