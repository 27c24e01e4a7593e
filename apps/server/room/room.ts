// The room: admission, names, presence and the ordered log, over `Connection` objects only.
// It must not know which transport a member uses, nor Bun, Hono, sockets or the database.

import { verifyIdentitySignature } from '../../../shared/crypto/identity-key.ts'
import { encodeBase64url } from '../../../shared/protocol/base64url.ts'
import {
  authMessage,
  type ClientFrame,
  type ErrorCode,
  type ErrorFrame,
  type GroupStatus,
  type LeaveReason,
  type Member,
} from '../../../shared/protocol/frames.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import { checkName, nameKey } from '../../../shared/protocol/names.ts'
import { createDelivery, followPresence } from './delivery.ts'
import { createLocalPresence } from './local-presence.ts'
import type {
  BroadcastGroup,
  Connection,
  DeliveryService,
  Fanout,
  GroupRecord,
  GroupStore,
  IdentityStore,
  LocalMembers,
  MaybePromise,
  PresenceBook,
  RoomLog,
} from './ports.ts'
import { secretsEqual } from './secret.ts'
import { createTokenBucket } from './token-bucket.ts'

export interface RoomOptions {
  readonly identities: IdentityStore
  readonly log: RoomLog
  readonly groups: GroupStore
  /** The group as stored when the room starts; null when the room has none. */
  readonly initialGroup: GroupRecord | null
  readonly fanout: Fanout
  /** Who is online on every instance; by default this process's own book. */
  readonly presence?: PresenceBook
  /**
   * The Delivery Service; by default this process runs its own over `groups`. Instances that share
   * a room reach one leader's instead.
   */
  readonly delivery?: (local: LocalMembers) => DeliveryService
  readonly limits: Limits
  /** When set, `hello` must carry it. */
  readonly secret?: string
  readonly now?: () => number
  readonly randomBytes?: (length: number) => Uint8Array
  /** Failures that are the server's fault (a store that throws); never client content. */
  readonly reportInternalError?: (error: unknown) => void
}

/** What a transport holds for one connection: it feeds frames in and says when the socket is gone. */
export interface Session {
  receive(frame: ClientFrame): void
  /** A frame the edge could not decode; counts towards closing a misbehaving connection. */
  reject(code: ErrorCode, message: string): void
  /** An error after which nothing more is read (an oversize frame): say why, then close. */
  fail(code: ErrorCode, message: string): void
  /** The transport lost the socket; `reason` is how. */
  closed(reason: LeaveReason): void
}

export interface Room {
  open(connection: Connection): Session
  members(): Member[]
  /** Tells every connection the server is going away, then closes them. */
  shutdown(): void
}

/** Replays are read in pages so a long resume does not hold one giant array. */
const REPLAY_PAGE = 1000

export function createRoom(options: RoomOptions): Room {
  const { identities, log, fanout, limits } = options
  const now = options.now ?? Date.now
  const randomBytes =
    options.randomBytes ?? ((length: number) => crypto.getRandomValues(new Uint8Array(length)))
  const reportInternalError = options.reportInternalError ?? ((error) => console.error(error))

  /** Members admitted on this instance, by case-folded name. */
  const members = new Map<string, MemberSession>()
  /** Every open session, admitted or not, for shutdown. */
  const sessions = new Set<MemberSession>()
  const groups = new Map<BroadcastGroup, number>()
  const ungrouped = new Set<Connection>()
  let shuttingDown = false

  const presence = options.presence ?? createLocalPresence(fanout)
  const local: LocalMembers = {
    deliver: deliverLocally,
    sendTo(name, frame) {
      const member = members.get(nameKey(name))
      member?.connection.sendText(JSON.stringify(frame))
      return member !== undefined
    },
    displace: (name) => members.get(nameKey(name))?.displace(),
    list: () =>
      [...members.values()].map((member) => ({
        name: member.name as string,
        identityKey: member.identityKey as string,
      })),
  }
  fanout.subscribe(local)

  const delivery = (options.delivery ?? runOwnDelivery)(local)

  function runOwnDelivery(local: LocalMembers): DeliveryService {
    const own = createDelivery({
      store: options.groups,
      initialGroup: options.initialGroup,
      leaveGraceMs: limits.leaveGraceMs,
      commitTimeoutMs: limits.commitTimeoutMs,
      now,
      sendTo: local.sendTo,
      online: () => presence.list().map((member) => member.name),
      broadcast: (entry) => fanout.publishLogged(entry),
    })
    presence.watch(followPresence(own))
    return own
  }

  function deliverLocally(text: string): void {
    // Everyone here is being closed; the leaves published meanwhile are for other instances.
    if (shuttingDown) return
    for (const group of groups.keys()) group.publish(text)
    for (const connection of ungrouped) connection.sendText(text)
  }

  function listen(connection: Connection): void {
    const group = connection.broadcastGroup
    if (!group) {
      ungrouped.add(connection)
      return
    }
    group.add(connection)
    groups.set(group, (groups.get(group) ?? 0) + 1)
  }

  function stopListening(connection: Connection): void {
    const group = connection.broadcastGroup
    if (!group) {
      ungrouped.delete(connection)
      return
    }
    group.remove(connection)
    const count = (groups.get(group) ?? 1) - 1
    if (count === 0) groups.delete(group)
    else groups.set(group, count)
  }

  interface MemberSession {
    readonly connection: Connection
    name?: string
    identityKey?: string
    shutDown(): void
    displace(): void
  }

  function open(connection: Connection): Session {
    type Phase = 'hello' | 'challenged' | 'member' | 'closed'
    let phase: Phase = 'hello'
    let name = ''
    let identityKey = ''
    let nonce = ''
    let invalidFrames = 0
    let rateStrikes = 0
    const bucket = createTokenBucket(limits.rate, now)
    const queue: ClientFrame[] = []
    let pumping = false

    const self: MemberSession = {
      connection,
      get name() {
        return phase === 'member' ? name : undefined
      },
      get identityKey() {
        return phase === 'member' ? identityKey : undefined
      },
      shutDown() {
        finish('shutdown', errorFrame('going_away', 'the server is shutting down', true))
      },
      displace() {
        // The same key connected again (a reconnect after a silent network drop): the new
        // connection takes this one's place without a leave/join pair for the others to see.
        if (members.get(nameKey(name)) === self) members.delete(nameKey(name))
        phase = 'closed'
        sessions.delete(self)
        stopListening(connection)
        connection.close(errorFrame('replaced', 'you connected again from elsewhere', true))
      },
    }
    sessions.add(self)

    const authTimer = setTimeout(() => {
      if (phase !== 'member' && phase !== 'closed') {
        fail('auth_timeout', `join within ${limits.authTimeoutMs} ms of connecting`)
      }
    }, limits.authTimeoutMs)

    function send(frame: Parameters<typeof JSON.stringify>[0]): void {
      connection.sendText(JSON.stringify(frame))
    }

    function fail(code: ErrorCode, message: string): void {
      finish('dropped', errorFrame(code, message, true))
    }

    function finish(reason: LeaveReason, farewell?: ErrorFrame): void {
      if (phase === 'closed') return
      const wasMember = phase === 'member'
      phase = 'closed'
      clearTimeout(authTimer)
      queue.length = 0
      sessions.delete(self)
      if (wasMember && members.get(nameKey(name)) === self) {
        members.delete(nameKey(name))
        stopListening(connection)
        presence.depart({ name, identityKey }, reason, now())
      }
      connection.close(farewell)
    }

    function reject(code: ErrorCode, message: string): void {
      if (phase === 'closed') return
      invalidFrames += 1
      if (invalidFrames > limits.maxInvalidFrames) {
        fail('too_many_errors', `more than ${limits.maxInvalidFrames} invalid frames`)
        return
      }
      send(errorFrame(code, message, false))
    }

    function receive(frame: ClientFrame): void {
      if (phase === 'closed') return
      if (!bucket.take()) {
        rateStrikes += 1
        if (rateStrikes > limits.rate.strikes) {
          fail('rate_limited', 'too many frames: closing the connection')
        } else if (rateStrikes === 1) {
          send(errorFrame('rate_limited', 'slow down: frames are being dropped', false))
        }
        return
      }
      if (bucket.isFull()) rateStrikes = 0
      queue.push(frame)
      if (!pumping) pump()
    }

    /** Handles frames one at a time, in order, even when a handler has to wait (signatures, stores). */
    function pump(): void {
      pumping = true
      while (queue.length > 0 && phase !== 'closed') {
        const frame = queue.shift() as ClientFrame
        let pending: MaybePromise<void>
        try {
          pending = handle(frame)
        } catch (error) {
          pending = Promise.reject(error)
        }
        if (pending instanceof Promise) {
          pending.catch(internalError).finally(pump)
          return
        }
      }
      pumping = false
    }

    function internalError(error: unknown): void {
      reportInternalError(error)
      if (phase !== 'closed') {
        send(UNAVAILABLE)
      }
    }

    function handle(frame: ClientFrame): MaybePromise<void> {
      switch (phase) {
        case 'hello':
          return frame.type === 'hello' ? onHello(frame) : expected('hello', frame)
        case 'challenged':
          return frame.type === 'auth' ? onAuth(frame.signature) : expected('auth', frame)
        case 'member':
          return onMemberFrame(frame)
        case 'closed':
          return
      }
    }

    function expected(what: string, frame: ClientFrame): void {
      if (frame.type === 'ping') {
        send({ type: 'pong', nonce: frame.nonce })
        return
      }
      reject('not_ready', `send ${what} first`)
    }

    function onHello(frame: Extract<ClientFrame, { type: 'hello' }>): void {
      if (options.secret !== undefined) {
        if (frame.secret === undefined) {
          send(errorFrame('bad_secret', 'this room asks for a secret', false))
          return
        }
        if (!secretsEqual(frame.secret, options.secret)) {
          fail('bad_secret', 'wrong room secret')
          return
        }
      }
      const check = checkName(frame.name)
      if (!check.ok) {
        reject(check.code ?? 'name_invalid', check.message ?? 'invalid name')
        return
      }
      name = frame.name
      identityKey = frame.identityKey
      nonce = encodeBase64url(randomBytes(32))
      phase = 'challenged'
      send({ type: 'challenge', nonce })
    }

    async function onAuth(signature: string): Promise<void> {
      const valid = await verifyIdentitySignature(identityKey, signature, authMessage(nonce, name))
      if (phase !== 'challenged') return
      if (!valid) {
        fail('auth_failed', 'the signature does not match the identity key')
        return
      }
      const claim = await identities.claim(name, identityKey, now())
      if (phase !== 'challenged') return
      if (claim === 'conflict') {
        phase = 'hello'
        reject('name_taken', `"${name}" belongs to another identity key; choose another name`)
        return
      }
      const pendingStatus = delivery.status()
      const group = pendingStatus instanceof Promise ? await pendingStatus : pendingStatus
      if (phase === 'challenged') admit(group)
    }

    /** Synchronous, so no broadcast can fall between reading the head and listening. */
    function admit(group: GroupStatus | null): void {
      // The same key connected again here: the new connection takes the old one's place.
      members.get(nameKey(name))?.displace()
      phase = 'member'
      clearTimeout(authTimer)
      members.set(nameKey(name), self)
      presence.arrive({ name, identityKey }, now())
      const head = fanout.deliveredHead()
      send({ type: 'ready', name, head, members: presence.list(), group })
      listen(connection)
    }

    function onMemberFrame(frame: ClientFrame): MaybePromise<void> {
      switch (frame.type) {
        case 'app': {
          // Not awaited: the next frame need not wait for this one's write, and the store hands
          // entries back in sequence order, so publishing stays in log order.
          const entry = log.append({
            type: 'app',
            from: name,
            at: now(),
            ciphertext: frame.ciphertext,
          })
          if (entry instanceof Promise)
            entry.then((written) => fanout.publishLogged(written), internalError)
          else fanout.publishLogged(entry)
          return
        }
        case 'resume':
          return replay(frame.afterSeq)
        case 'ping':
          send({ type: 'pong', nonce: frame.nonce })
          return
        case 'leave':
          finish('quit')
          return
        case 'key-package':
          delivery.keyPackage(name, frame.keyPackage)
          return
        case 'group-founded':
          return delivery.groupFounded(name, frame.groupId)
        case 'commit':
          return delivery.commit(name, frame)
        case 'hello':
        case 'auth':
          reject('unexpected_frame', `already joined as ${name}`)
          return
      }
    }

    async function replay(afterSeq: number): Promise<void> {
      const head = await log.head()
      if (afterSeq > head) {
        reject('resume_ahead', `the room's log ends at ${head}; rejoin as a newcomer`)
        return
      }
      const oldest = await log.oldest()
      if (afterSeq + 1 < oldest) {
        reject('resume_gap', `the room's log starts at ${oldest}; rejoin as a newcomer`)
        return
      }
      let cursor = afterSeq
      while (cursor < head && phase === 'member') {
        const page = await log.readAfter(cursor, Math.min(REPLAY_PAGE, head - cursor))
        if (page.length === 0) break
        for (const entry of page) connection.sendText(entry.text)
        cursor = (page.at(-1) as { seq: number }).seq
      }
      // The connection may have closed while the log was read; it must hear nothing after that.
      if (phase === 'member') send({ type: 'resumed', head })
    }

    return { receive, reject, fail, closed: (reason) => finish(reason) }
  }

  return {
    open,
    members: () => presence.list(),
    shutdown() {
      shuttingDown = true
      delivery.stop()
      for (const session of [...sessions]) session.shutDown()
    },
  }
}

/** What a member is told when the server's own store failed it; the frame may be tried again. */
export const UNAVAILABLE: ErrorFrame = errorFrame(
  'unavailable',
  'the server could not do that just now; try again',
  false,
)

function errorFrame(code: ErrorCode, message: string, fatal: boolean): ErrorFrame {
  return { type: 'error', code, message, fatal }
}
