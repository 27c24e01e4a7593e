// One connection from its first frame to its close: admission's steps in order, then a member's
// frames dispatched to the log and the Delivery Service, the rate limit and resume. Knows nothing
// of the transport, nor of other members: the room it is given owns those.
import { encodeFrame } from '../../../shared/protocol/codec.ts'
import {
  type ClientFrame,
  type ErrorCode,
  type ErrorFrame,
  errorFrame,
  type GroupStatus,
  type HelloFrame,
  type LeaveReason,
  type Member,
  type ServerFrame,
  UNAVAILABLE,
} from '../../../shared/protocol/frames.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../../../shared/protocol/token-bucket.ts'
import type { Admission, Challenge } from './admission.ts'
import {
  type Connection,
  type DeliveryService,
  type Fanout,
  type MaybePromise,
  type RoomLog,
  requestDelivery,
} from './ports.ts'

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

/** The room as its sessions reach it: shared parts, and the book of who is connected here. */
export interface SessionHost {
  readonly limits: Limits
  readonly now: () => number
  readonly admission: Admission
  readonly log: RoomLog
  readonly fanout: Fanout
  readonly delivery: DeliveryService
  readonly reportInternalError: (error: unknown) => void
  /** Makes the session the one connection of `member` here and sends it `ready`. Synchronous. */
  admit(session: MemberSession, member: Member, group: GroupStatus | null): void
  /** The session is over; a member among them leaves for `reason`, or quietly when none is given. */
  release(session: MemberSession, member: Member | undefined, reason: LeaveReason | undefined): void
}

type State =
  | { readonly kind: 'hello' }
  | { readonly kind: 'challenged'; readonly challenge: Challenge }
  /** The state is the member itself (name, key): one object per idle member, not two. */
  | ({ readonly kind: 'member' } & Member)
  | { readonly kind: 'closed' }

const HELLO: State = { kind: 'hello' }
const CLOSED: State = { kind: 'closed' }

/** Replays are read in pages so a long resume does not hold one giant array. */
const REPLAY_PAGE = 1000

/**
 * A class, so an idle member costs its fields and not a set of closures: written as closures it
 * was 23 functions and 5 scopes per connection, ~1.4 KB of the server's heap for each of 10,000
 * idle members.
 */
export class MemberSession implements Session {
  private state: State = HELLO
  private invalidFrames = 0
  private rateStrikes = 0
  private readonly bucket: TokenBucket
  private readonly queue: ClientFrame[] = []
  private pumping = false
  private readonly authTimer: ReturnType<typeof setTimeout>
  /** Bound once: promise chains report the server's own failures through it. */
  private readonly internalError = (error: unknown): void => this.reportFailure(error)

  constructor(
    private readonly host: SessionHost,
    readonly connection: Connection,
  ) {
    this.bucket = createTokenBucket(host.limits.rate, host.now)
    this.authTimer = setTimeout(expireAuth, host.limits.authTimeoutMs, this)
  }

  /** The name and key this connection proved, once it has: what the Delivery Service checks. */
  get member(): Member | undefined {
    return this.state.kind === 'member' ? this.state : undefined
  }

  /** Called by the auth timer: a connection that has not joined by then is cut off. */
  expireAuth(): void {
    if (this.state.kind !== 'member' && this.state.kind !== 'closed') {
      this.fail('auth_timeout', `join within ${this.host.limits.authTimeoutMs} ms of connecting`)
    }
  }

  shutDown(): void {
    this.finish('shutdown', errorFrame('going_away', 'the server is shutting down', true))
  }

  /**
   * The same key connected again (a reconnect after a silent network drop): the new connection
   * takes this one's place without a leave/join pair for the others to see.
   */
  displace(): void {
    const { member } = this
    if (!member) return
    this.state = CLOSED
    this.host.release(this, member, undefined)
    this.connection.close(errorFrame('replaced', 'you connected again from elsewhere', true))
  }

  closed(reason: LeaveReason): void {
    this.finish(reason)
  }

  fail(code: ErrorCode, message: string): void {
    this.finish('dropped', errorFrame(code, message, true))
  }

  reject(code: ErrorCode, message: string): void {
    if (this.state.kind === 'closed') return
    this.invalidFrames += 1
    const { maxInvalidFrames } = this.host.limits
    if (this.invalidFrames > maxInvalidFrames) {
      this.fail('too_many_errors', `more than ${maxInvalidFrames} invalid frames`)
      return
    }
    this.send(errorFrame(code, message, false))
  }

  receive(frame: ClientFrame): void {
    if (this.state.kind === 'closed') return
    if (!this.bucket.take()) {
      this.rateStrikes += 1
      if (this.rateStrikes > this.host.limits.rate.strikes) {
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

  private send(frame: ServerFrame): void {
    this.connection.sendText(encodeFrame(frame))
  }

  private finish(reason: LeaveReason, farewell?: ErrorFrame): void {
    if (this.state.kind === 'closed') return
    const { member } = this
    this.state = CLOSED
    clearTimeout(this.authTimer)
    this.queue.length = 0
    this.host.release(this, member, reason)
    this.connection.close(farewell)
  }

  /** Handles frames one at a time, in order, even when a handler has to wait (signatures, stores). */
  private pump(): void {
    this.pumping = true
    while (this.queue.length > 0 && this.state.kind !== 'closed') {
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
    this.host.reportInternalError(error)
    if (this.state.kind !== 'closed') this.send(UNAVAILABLE)
  }

  private handle(frame: ClientFrame): MaybePromise<void> {
    const { state } = this
    switch (state.kind) {
      case 'hello':
        return frame.type === 'hello' ? this.onHello(frame) : this.expected('hello', frame)
      case 'challenged':
        return frame.type === 'auth'
          ? this.onAuth(state.challenge, frame.signature)
          : this.expected('auth', frame)
      case 'member':
        return this.onMemberFrame(state, frame)
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

  private onHello(frame: HelloFrame): void {
    const verdict = this.host.admission.hello(frame)
    switch (verdict.kind) {
      case 'challenge':
        this.state = { kind: 'challenged', challenge: verdict.challenge }
        this.send({ type: 'challenge', nonce: verdict.challenge.nonce })
        return
      case 'tell':
        this.send(verdict.frame)
        return
      case 'reject':
        this.reject(verdict.code, verdict.message)
        return
      case 'fail':
        this.fail(verdict.code, verdict.message)
        return
    }
  }

  /** Still waiting for its auth: not closed while a signature or a store was being awaited. */
  private challenged(): boolean {
    return this.state.kind === 'challenged'
  }

  private async onAuth(challenge: Challenge, signature: string): Promise<void> {
    const { admission, delivery } = this.host
    const valid = await admission.verify(challenge, signature)
    if (!this.challenged()) return
    if (!valid) {
      this.fail('auth_failed', 'the signature does not match the identity key')
      return
    }
    const claim = await admission.claim(challenge.member)
    if (!this.challenged()) return
    if (claim === 'conflict') {
      this.state = HELLO
      const { name } = challenge.member
      this.reject('name_taken', `"${name}" belongs to another identity key; choose another name`)
      return
    }
    const pendingStatus = delivery.status()
    const group = pendingStatus instanceof Promise ? await pendingStatus : pendingStatus
    if (!this.challenged()) return
    const member = { kind: 'member' as const, ...challenge.member }
    this.state = member
    clearTimeout(this.authTimer)
    this.host.admit(this, member, group)
  }

  private onMemberFrame(member: Member, frame: ClientFrame): MaybePromise<void> {
    const { log, fanout, delivery, now } = this.host
    switch (frame.type) {
      case 'app':
        // Not awaited: the next frame need not wait for this one's write, and the store hands
        // entries back in sequence order, so publishing stays in log order.
        log
          .append({ type: 'app', from: member.name, at: now(), ciphertext: frame.ciphertext })
          .then((written) => fanout.publishLogged(written), this.internalError)
        return
      case 'resume':
        return this.replay(frame.afterSeq)
      case 'ping':
        this.send({ type: 'pong', nonce: frame.nonce })
        return
      case 'leave':
        this.finish('quit')
        return
      case 'key-package':
      case 'group-founded':
      case 'commit':
      case 'commit-refused':
        return requestDelivery(delivery, member, frame)
      case 'hello':
      case 'auth':
        this.reject('unexpected_frame', `already joined as ${member.name}`)
        return
    }
  }

  private async replay(afterSeq: number): Promise<void> {
    const { log } = this.host
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
    while (cursor < head && this.state.kind === 'member') {
      const page = await log.readAfter(cursor, Math.min(REPLAY_PAGE, head - cursor))
      const last = page.at(-1)
      if (!last) break
      for (const entry of page) this.connection.sendText(entry.text)
      cursor = last.seq
    }
    // The connection may have closed while the log was read; it must hear nothing after that.
    if (this.member) this.send({ type: 'resumed', head })
  }
}

function expireAuth(session: MemberSession): void {
  session.expireAuth()
}
