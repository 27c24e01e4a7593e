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
import { createTokenBucket } from '../../../shared/protocol/token-bucket.ts'
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
  /** Refused commits and blamed committers, one line each; never client content. */
  readonly reportSecurityEvent?: (line: string) => void
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
  const readyLimits = {
    maxFileBytes: limits.maxFileBytes,
    rate: { perSecond: limits.rate.perSecond, burst: limits.rate.burst },
  }
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
      report: options.reportSecurityEvent,
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
    readonly name?: string
    readonly identityKey?: string
    shutDown(): void
    displace(): void
  }

  type Phase = 'hello' | 'challenged' | 'member' | 'closed'

  /**
   * One connection, from `hello` to its close. A class, so an idle member costs its fields and not
   * a set of closures: written as closures it was 23 functions and 5 scopes per connection, ~1.4 KB
   * of the server's heap for each of 10,000 idle members.
   */
  class ConnectionSession implements Session, MemberSession {
    private phase: Phase = 'hello'
    /** As claimed in `hello`; only a member's are public (see the getters). */
    private claimedName = ''
    private claimedKey = ''
    private nonce = ''
    private invalidFrames = 0
    private rateStrikes = 0
    private readonly bucket = createTokenBucket(limits.rate, now)
    private readonly queue: ClientFrame[] = []
    private pumping = false
    private readonly authTimer: ReturnType<typeof setTimeout>
    /** Bound once: promise chains report the server's own failures through it. */
    private readonly internalError = (error: unknown): void => this.reportFailure(error)

    constructor(readonly connection: Connection) {
      sessions.add(this)
      this.authTimer = setTimeout(expireAuth, limits.authTimeoutMs, this)
    }

    get name(): string | undefined {
      return this.phase === 'member' ? this.claimedName : undefined
    }

    get identityKey(): string | undefined {
      return this.phase === 'member' ? this.claimedKey : undefined
    }

    /** Called by the auth timer: a connection that has not joined by then is cut off. */
    expireAuth(): void {
      if (this.phase !== 'member' && this.phase !== 'closed') {
        this.fail('auth_timeout', `join within ${limits.authTimeoutMs} ms of connecting`)
      }
    }

    shutDown(): void {
      this.finish('shutdown', errorFrame('going_away', 'the server is shutting down', true))
    }

    displace(): void {
      // The same key connected again (a reconnect after a silent network drop): the new
      // connection takes this one's place without a leave/join pair for the others to see.
      if (members.get(nameKey(this.claimedName)) === this) members.delete(nameKey(this.claimedName))
      this.phase = 'closed'
      sessions.delete(this)
      stopListening(this.connection)
      this.connection.close(errorFrame('replaced', 'you connected again from elsewhere', true))
    }

    closed(reason: LeaveReason): void {
      this.finish(reason)
    }

    private send(frame: Parameters<typeof JSON.stringify>[0]): void {
      this.connection.sendText(JSON.stringify(frame))
    }

    fail(code: ErrorCode, message: string): void {
      this.finish('dropped', errorFrame(code, message, true))
    }

    private finish(reason: LeaveReason, farewell?: ErrorFrame): void {
      if (this.phase === 'closed') return
      const wasMember = this.phase === 'member'
      this.phase = 'closed'
      clearTimeout(this.authTimer)
      this.queue.length = 0
      sessions.delete(this)
      if (wasMember && members.get(nameKey(this.claimedName)) === this) {
        members.delete(nameKey(this.claimedName))
        stopListening(this.connection)
        presence.depart({ name: this.claimedName, identityKey: this.claimedKey }, reason, now())
      }
      this.connection.close(farewell)
    }

    reject(code: ErrorCode, message: string): void {
      if (this.phase === 'closed') return
      this.invalidFrames += 1
      if (this.invalidFrames > limits.maxInvalidFrames) {
        this.fail('too_many_errors', `more than ${limits.maxInvalidFrames} invalid frames`)
        return
      }
      this.send(errorFrame(code, message, false))
    }

    receive(frame: ClientFrame): void {
      if (this.phase === 'closed') return
      if (!this.bucket.take()) {
        this.rateStrikes += 1
        if (this.rateStrikes > limits.rate.strikes) {
          this.fail('rate_limited', 'too many frames: closing the connection')
        } else if (this.rateStrikes === 1) {
          this.send(errorFrame('rate_limited', 'slow down: frames are being dropped', false))
        }
        return
      }
      if (this.bucket.isFull()) this.rateStrikes = 0
      this.queue.push(frame)
      if (!this.pumping) this.pump()
    }

    /** Handles frames one at a time, in order, even when a handler has to wait (signatures, stores). */
    private pump(): void {
      this.pumping = true
      while (this.queue.length > 0 && this.phase !== 'closed') {
        const frame = this.queue.shift() as ClientFrame
        let pending: MaybePromise<void>
        try {
          pending = this.handle(frame)
        } catch (error) {
          pending = Promise.reject(error)
        }
        if (pending instanceof Promise) {
          pending.catch(this.internalError).finally(() => this.pump())
          return
        }
      }
      this.pumping = false
    }

    private reportFailure(error: unknown): void {
      reportInternalError(error)
      if (this.phase !== 'closed') {
        this.send(UNAVAILABLE)
      }
    }

    private handle(frame: ClientFrame): MaybePromise<void> {
      switch (this.phase) {
        case 'hello':
          return frame.type === 'hello' ? this.onHello(frame) : this.expected('hello', frame)
        case 'challenged':
          return frame.type === 'auth' ? this.onAuth(frame.signature) : this.expected('auth', frame)
        case 'member':
          return this.onMemberFrame(frame)
        case 'closed':
          return
      }
    }

    private expected(what: string, frame: ClientFrame): void {
      if (frame.type === 'ping') {
        this.send({ type: 'pong', nonce: frame.nonce })
        return
      }
      this.reject('not_ready', `send ${what} first`)
    }

    private onHello(frame: Extract<ClientFrame, { type: 'hello' }>): void {
      if (options.secret !== undefined) {
        if (frame.secret === undefined) {
          this.send(errorFrame('bad_secret', 'this room asks for a secret', false))
          return
        }
        if (!secretsEqual(frame.secret, options.secret)) {
          this.fail('bad_secret', 'wrong room secret')
          return
        }
      }
      const check = checkName(frame.name)
      if (!check.ok) {
        this.reject(check.code ?? 'name_invalid', check.message ?? 'invalid name')
        return
      }
      this.claimedName = frame.name
      this.claimedKey = frame.identityKey
      this.nonce = encodeBase64url(randomBytes(32))
      this.phase = 'challenged'
      this.send({ type: 'challenge', nonce: this.nonce })
    }

    private async onAuth(signature: string): Promise<void> {
      const { claimedName: name, claimedKey: identityKey } = this
      const valid = await verifyIdentitySignature(
        identityKey,
        signature,
        authMessage(this.nonce, name),
      )
      if (this.phase !== 'challenged') return
      if (!valid) {
        this.fail('auth_failed', 'the signature does not match the identity key')
        return
      }
      const claim = await identities.claim(name, identityKey, now())
      if (this.phase !== 'challenged') return
      if (claim === 'conflict') {
        this.phase = 'hello'
        this.reject('name_taken', `"${name}" belongs to another identity key; choose another name`)
        return
      }
      const pendingStatus = delivery.status()
      const group = pendingStatus instanceof Promise ? await pendingStatus : pendingStatus
      if (this.phase === 'challenged') this.admit(group)
    }

    /** Synchronous, so no broadcast can fall between reading the head and listening. */
    private admit(group: GroupStatus | null): void {
      const { claimedName: name, claimedKey: identityKey } = this
      // The same key connected again here: the new connection takes the old one's place.
      members.get(nameKey(name))?.displace()
      this.phase = 'member'
      clearTimeout(this.authTimer)
      members.set(nameKey(name), this)
      presence.arrive({ name, identityKey }, now())
      const head = fanout.deliveredHead()
      this.send({ type: 'ready', name, head, members: presence.list(), group, limits: readyLimits })
      listen(this.connection)
    }

    /** The name and key this connection proved: what the Delivery Service checks MLS against. */
    private member(): Member {
      return { name: this.claimedName, identityKey: this.claimedKey }
    }

    private onMemberFrame(frame: ClientFrame): MaybePromise<void> {
      const name = this.claimedName
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
            entry.then((written) => fanout.publishLogged(written), this.internalError)
          else fanout.publishLogged(entry)
          return
        }
        case 'resume':
          return this.replay(frame.afterSeq)
        case 'ping':
          this.send({ type: 'pong', nonce: frame.nonce })
          return
        case 'leave':
          this.finish('quit')
          return
        case 'key-package':
          return delivery.keyPackage(this.member(), frame.keyPackage)
        case 'group-founded':
          return delivery.groupFounded(this.member(), frame.groupInfo)
        case 'commit':
          return delivery.commit(this.member(), frame)
        case 'commit-refused':
          return delivery.commitRefused(this.member(), frame)
        case 'hello':
        case 'auth':
          this.reject('unexpected_frame', `already joined as ${name}`)
          return
      }
    }

    private async replay(afterSeq: number): Promise<void> {
      const head = await log.head()
      if (afterSeq > head) {
        this.reject('resume_ahead', `the room's log ends at ${head}; rejoin as a newcomer`)
        return
      }
      const oldest = await log.oldest()
      if (afterSeq + 1 < oldest) {
        this.reject('resume_gap', `the room's log starts at ${oldest}; rejoin as a newcomer`)
        return
      }
      let cursor = afterSeq
      while (cursor < head && this.phase === 'member') {
        const page = await log.readAfter(cursor, Math.min(REPLAY_PAGE, head - cursor))
        if (page.length === 0) break
        for (const entry of page) this.connection.sendText(entry.text)
        cursor = (page.at(-1) as { seq: number }).seq
      }
      // The connection may have closed while the log was read; it must hear nothing after that.
      if (this.phase === 'member') this.send({ type: 'resumed', head })
    }
  }

  function expireAuth(session: ConnectionSession): void {
    session.expireAuth()
  }

  function open(connection: Connection): Session {
    return new ConnectionSession(connection)
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
