// The room: owns admission and the member sessions, and keeps who is connected here and how a
// broadcast reaches them. It treats every transport alike (it names them only in the operator's
// events and counts) and knows nothing of Bun, Hono, sockets or the database: everything outside
// it is the backend it is given.
import { encodeFrame, type WireFrame } from '../../../shared/protocol/codec.ts'
import type { Member, ServerLimits } from '../../../shared/protocol/frames.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import { type EventSink, ignoreEvents } from '../observe/events.ts'
import { createAddressBudget } from './address-budget.ts'
import { createAdmission } from './admission.ts'
import { createLinkDesk } from './link-desk.ts'
import { MemberSession, type SessionHost } from './member-session.ts'
import type {
  BroadcastGroup,
  Connection,
  Expulsion,
  LocalMembers,
  MaybePromise,
  RoomBackend,
  Session,
} from './ports.ts'
import { createPresenceBatch } from './presence-batch.ts'
import { createReadyEncoder } from './ready-wire.ts'
import { RosterView } from './roster-view.ts'

export type { Session }

export interface RoomOptions {
  readonly backend: RoomBackend
  readonly limits: Limits
  /** When set, `hello` must carry it. */
  readonly secret: string | undefined
  /** Whether a name not bound yet needs an admin's invite (CHATBOX_INVITE_ONLY). */
  readonly inviteOnly?: boolean
  /** When a turn's joins and leaves go out together; after the turn's I/O unless given. */
  readonly schedulePresence?: (send: () => void) => void
  readonly now: () => number
  readonly randomBytes: (length: number) => Uint8Array
  /** Failures that are the server's fault (a store that throws); never client content. */
  readonly reportInternalError: (error: unknown) => void
  /** The operator's event log: joins, leaves, refusals, and what the Delivery Service does here. */
  readonly events?: EventSink
}

export interface Room {
  open(connection: Connection): Session
  members(): Member[]
  /** What the room holds now, in counts, for the operator's metrics. */
  census(): RoomCensus
  /**
   * The admin's word: the member is disconnected on whichever instance holds it, with a leave for
   * the reason, and its leaf is removed from the group by the next commit.
   */
  expel(name: string, reason: Expulsion): MaybePromise<void>
  /** Tells every connection the server is going away, then closes them. */
  shutdown(): void
}

export interface RoomCensus {
  /** Open connections here, joined or not, by transport. */
  readonly connections: Readonly<Record<Connection['transport'], number>>
  /** Members admitted on this instance. */
  readonly membersHere: number
  /** Members online in the room, on any instance. */
  readonly membersOnline: number
  /** The group as this instance last heard of it. */
  readonly group: { readonly epoch: number; readonly size: number } | null
}

export function createRoom(options: RoomOptions): Room {
  const { backend, limits, now } = options
  const { fanout, presence } = backend
  const events = options.events ?? ignoreEvents

  /** Members admitted on this instance, by identity key: each device of a name is its own. */
  const members = new Map<string, MemberSession>()
  /** Every open session, admitted or not, for shutdown. */
  const sessions = new Set<MemberSession>()
  const connections = { wss: 0, tls: 0 }
  const broadcasts = createBroadcastBook()
  let shuttingDown = false
  const roster = new RosterView()
  const addressBudget = createAddressBudget({
    frames: limits.addressRate,
    bytes: limits.addressBytes,
    now,
  })

  const readyLimits: ServerLimits = {
    maxFileBytes: limits.maxFileBytes,
    rate: { perSecond: limits.rate.perSecond, burst: limits.rate.burst },
    bytes: { perSecond: limits.bytes.perSecond, burst: limits.bytes.burst },
  }
  const encodeReady = createReadyEncoder(readyLimits)

  const presenceBatch = createPresenceBatch({
    // Everyone here is being closed; the leaves published meanwhile are for other instances.
    deliver: (text) => shuttingDown || broadcasts.deliver(text),
    online: () => presence.count(),
    largeRoom: limits.membersPage,
    ...(options.schedulePresence ? { schedule: options.schedulePresence } : {}),
  })
  const local: LocalMembers = {
    deliver(wire) {
      // Joins and leaves announced before this entry reach everyone before it.
      presenceBatch.flush()
      if (!shuttingDown) broadcasts.deliver(wire)
    },
    announce: presenceBatch.announce,
    sendTo(member, frame) {
      const session = members.get(member.identityKey)
      if (session && (frame.type === 'commit-request' || frame.type === 'found-request')) {
        session.asked()
      }
      session?.connection.send(encodeFrame(frame))
      return session !== undefined
    },
    groupChanged: (status) => roster.take(status),
    displace: (member) => members.get(member.identityKey)?.displace(),
    expel(name, reason) {
      for (const session of [...members.values()]) {
        if (session.member && nameKey(session.member.name) === nameKey(name)) session.expel(reason)
      }
    },
    expelDevice: (member) => members.get(member.identityKey)?.expel('unlinked'),
    list: () => [...members.values()].flatMap((session) => session.member ?? []),
    events,
  }
  fanout.subscribe(local)

  const host: SessionHost = {
    limits,
    now,
    admission: createAdmission({
      identities: backend.identities,
      secret: options.secret,
      inviteOnly: options.inviteOnly ?? false,
      now,
      randomBytes: options.randomBytes,
      nameRates: { perKey: limits.nameRatePerKey, perAddress: limits.nameRatePerAddress },
      unusedNameMs: limits.unusedNameMs,
      secretGuesses: limits.secretGuesses,
      events,
    }),
    log: backend.log,
    identities: backend.identities,
    links: createLinkDesk({
      identities: backend.identities,
      board: backend.links,
      now,
      linkCodeMs: limits.linkCodeMs,
      reportError: options.reportInternalError,
    }),
    fanout,
    delivery: backend.delivery(local),
    presence,
    reportInternalError: options.reportInternalError,
    inGroup: (member) => roster.has(member.identityKey),
    rosterChange: (ms) => roster.changed(ms),
    addressAllows: (address, bytes) => addressBudget.take(address, bytes),
    refused(session, code, fatal) {
      const { transport, remoteAddress: address } = session.connection
      const name = session.claimedName
      events({ event: 'refused', code, fatal, ...(name ? { name } : {}), transport, address })
    },

    /** Synchronous, so no broadcast can fall between reading the head and listening. */
    admit(session, member, group) {
      const key = member.identityKey
      // The same key connected again here: the new connection takes the old one's place.
      members.get(key)?.displace()
      members.set(key, session)
      events({ event: 'join', name: member.name, transport: session.connection.transport })
      presence.arrive(member, now())
      const head = fanout.deliveredHead()
      // The first page only: listing everyone would make each join cost the room's size.
      const { members: firstPage, next } = presence.page(0, limits.membersPage)
      session.connection.send(
        encodeReady({
          name: member.name,
          head,
          members: firstPage,
          online: presence.count(),
          next,
          group,
        }),
      )
      broadcasts.listen(session.connection)
    },

    release(session, member, reason) {
      const { transport } = session.connection
      if (sessions.delete(session)) connections[transport] -= 1
      if (!member || members.get(member.identityKey) !== session) return
      members.delete(member.identityKey)
      broadcasts.stopListening(session.connection)
      // Without a reason it was displaced by its own new connection: a quiet leave for the room.
      events({ event: 'leave', name: member.name, transport, reason: reason ?? 'replaced' })
      if (reason) presence.depart(member, reason, now())
    },
  }

  roster.takeInitial(Promise.resolve(host.delivery.status())).catch(options.reportInternalError)

  return {
    open(connection) {
      const session = new MemberSession(host, connection)
      sessions.add(session)
      connections[connection.transport] += 1
      return session
    },
    members: () => presence.list(),
    census() {
      const group = roster.status
      return {
        connections: { ...connections },
        membersHere: members.size,
        membersOnline: presence.list().length,
        group: group && { epoch: group.epoch, size: group.roster.length },
      }
    },
    expel: (name, reason) => host.delivery.expel(name, reason),
    shutdown() {
      shuttingDown = true
      host.delivery.stop()
      for (const session of [...sessions]) session.shutDown()
    },
  }
}

/**
 * The connections a broadcast goes to: one publish per broadcast group (WebSockets share one) and
 * one send for each connection outside a group.
 */
function createBroadcastBook() {
  const groups = new Map<BroadcastGroup, number>()
  const ungrouped = new Set<Connection>()
  return {
    deliver(wire: WireFrame): void {
      for (const group of groups.keys()) group.publish(wire)
      for (const connection of ungrouped) connection.send(wire)
    },
    listen(connection: Connection): void {
      const group = connection.broadcastGroup
      if (!group) {
        ungrouped.add(connection)
        return
      }
      group.add(connection)
      groups.set(group, (groups.get(group) ?? 0) + 1)
    },
    stopListening(connection: Connection): void {
      const group = connection.broadcastGroup
      if (!group) {
        ungrouped.delete(connection)
        return
      }
      group.remove(connection)
      const count = (groups.get(group) ?? 1) - 1
      if (count === 0) groups.delete(group)
      else groups.set(group, count)
    },
  }
}
