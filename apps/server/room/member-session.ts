// One connection from its first frame to its close: admission's steps in order, then a member's
// frames dispatched to the log and the Delivery Service, the rate limit and resume. Knows nothing
// of the transport, nor of other members: the room it is given owns those.
import { encodeFrame } from '../../../shared/protocol/codec.ts'
import {
  type ClientFrame,
  type ClientFrameType,
  type ErrorCode,
  type ErrorFrame,
  errorFrame,
  type HelloFrame,
  type LeaveReason,
  type Member,
  type ServerFrame,
  UNAVAILABLE,
} from '../../../shared/protocol/frames.ts'
import type { Challenge } from './admission.ts'
import { type DeviceFrame, deviceFrame } from './device-frames.ts'
import { FrameRate } from './frame-rate.ts'
import type { WaitingDevice } from './link-desk.ts'
import {
  type Connection,
  EXPULSION_MESSAGES,
  type Expulsion,
  type MaybePromise,
  requestDelivery,
  type Session,
} from './ports.ts'
import type { SessionHost } from './session-host.ts'
import { appFromOutside, logApp, replay, type SessionReader } from './session-log.ts'

export type { SessionHost }

type State =
  | { readonly kind: 'hello' }
  | { readonly kind: 'challenged'; readonly challenge: Challenge }
  /** A new device proved its key and waits for a device of the name to approve it. */
  | { readonly kind: 'linking'; readonly challenge: Challenge; readonly device: WaitingDevice }
  /** The state is the member itself (name, key): one object per idle member, not two. */
  | ({ readonly kind: 'member' } & Member)
  | { readonly kind: 'closed' }

const HELLO: State = { kind: 'hello' }
const CLOSED: State = { kind: 'closed' }

/**
 * A class, so an idle member costs its fields and not a set of closures: written as closures it
 * was 23 functions and 5 scopes per connection, ~1.4 KB of the server's heap for each of 10,000
 * idle members.
 */
export class MemberSession implements Session {
  private state: State = HELLO
  private invalidFrames = 0
  private readonly rate: FrameRate
  /** Requests to commit or found the group sent to this member and not yet answered. */
  private answersOwed = 0
  /** The log's head when this member was admitted: outside the group, it is shown nothing older. */
  private admittedHead = 0
  /** When it last answered a request to commit or found: its change may not be heard here yet. */
  private answeredAt = Number.NEGATIVE_INFINITY
  private readonly queue: ClientFrame[] = []
  private pumping = false
  private readonly authTimer: ReturnType<typeof setTimeout>
  /** Bound once: promise chains report the server's own failures through it. */
  private readonly internalError = (error: unknown): void => this.reportFailure(error)

  constructor(
    private readonly host: SessionHost,
    readonly connection: Connection,
  ) {
    this.rate = new FrameRate(host.limits, host.now)
    this.authTimer = setTimeout(expireAuth, host.limits.authTimeoutMs, this)
  }

  /** The name and key this connection proved, once it has: what the Delivery Service checks. */
  get member(): Member | undefined {
    return this.state.kind === 'member' ? this.state : undefined
  }

  /** The name it holds, or claims with a name that passed the rules: for the event log. */
  get claimedName(): string | undefined {
    return this.state.kind === 'challenged' ? this.state.challenge.member.name : this.member?.name
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

  /** The admin put this member out (banned its key, gave its name to a new key), or another device unlinked it. */
  expel(reason: Expulsion | 'unlinked'): void {
    this.finish(reason, errorFrame(reason, EXPULSION_MESSAGES[reason], true))
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
    if (this.state.kind !== 'closed') this.host.refused(this, code, true)
    this.finish('dropped', errorFrame(code, message, true))
  }

  reject(code: ErrorCode, message: string, about?: ClientFrameType): void {
    if (this.state.kind === 'closed') return
    this.host.refused(this, code, false)
    this.invalidFrames += 1
    const { maxInvalidFrames } = this.host.limits
    if (this.invalidFrames > maxInvalidFrames) {
      this.fail('too_many_errors', `more than ${maxInvalidFrames} invalid frames`)
      return
    }
    this.send(errorFrame(code, message, false, about))
  }

  /** The Delivery Service asked this member to commit (or found the group): its answer is free. */
  asked(): void {
    this.answersOwed += 1
  }

  receive(frame: ClientFrame, bytes: number): void {
    if (this.state.kind === 'closed') return
    // What the server asked for never counts against the member's budget: a flood of rejoins
    // must not get the honest committer refused for answering them.
    const answer =
      (frame.type === 'commit' || frame.type === 'group-founded') && this.answersOwed > 0
    if (answer) {
      this.answersOwed -= 1
      this.answeredAt = this.host.now()
    } else if (
      !this.rate.take(bytes) ||
      !this.host.addressAllows(this.connection.remoteAddress, bytes)
    ) {
      const strike = this.rate.strike()
      if (strike === 'close') this.fail('rate_limited', 'too many frames: closing the connection')
      else if (strike === 'warn') {
        this.tell('rate_limited', 'slow down: frames are being dropped', frame.type)
      }
      return
    }
    this.rate.passed()
    this.queue.push(frame)
    if (!this.pumping) this.pump()
  }

  /** A refusal that is not held against the connection. */
  private tell(code: ErrorCode, message: string, about?: ClientFrameType): void {
    this.host.refused(this, code, false)
    this.send(errorFrame(code, message, false, about))
  }

  private send(frame: ServerFrame): void {
    this.connection.send(encodeFrame(frame))
  }

  private finish(reason: LeaveReason, farewell?: ErrorFrame): void {
    if (this.state.kind === 'closed') return
    if (this.state.kind === 'linking') this.host.links.leave(this.state.device)
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
        const about = frame.type
        pending.catch((error) => this.reportFailure(error, about)).finally(() => this.pump())
        return
      }
    }
    this.pumping = false
  }

  private reportFailure(error: unknown, about?: ClientFrameType): void {
    this.host.reportInternalError(error)
    if (this.state.kind !== 'closed') this.send(about ? { ...UNAVAILABLE, about } : UNAVAILABLE)
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
      case 'linking':
        return this.expected('approval by a device of yours', frame)
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
    this.reject('not_ready', `send ${what} first`, frame.type)
  }

  private onHello(frame: HelloFrame): void {
    const verdict = this.host.admission.hello(frame, this.connection.remoteAddress)
    switch (verdict.kind) {
      case 'challenge':
        this.state = { kind: 'challenged', challenge: verdict.challenge }
        this.send({ type: 'challenge', nonce: verdict.challenge.nonce })
        return
      case 'tell':
        this.tell(verdict.frame.code, verdict.frame.message)
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

  /**
   * Checks the signature, then claims the name and admits. `'approved'`: a new device a device of
   * the name approved, its key proven already. One function, so a join takes no more turns than
   * it must before the next frame is read.
   */
  private async onAuth(challenge: Challenge, proof: string | 'approved'): Promise<void> {
    const { admission, delivery } = this.host
    if (proof !== 'approved') {
      const valid = await admission.verify(challenge, proof)
      if (!this.challenged()) return
      if (!valid) {
        this.fail('auth_failed', 'the signature does not match the identity key')
        return
      }
      if (challenge.linkNonce !== undefined) {
        const verdict = await admission.linkable(challenge.member)
        if (!this.challenged()) return
        if (verdict.kind === 'refuse') return this.fail(verdict.code, verdict.message)
        if (verdict.kind === 'link') return this.waitForApproval(challenge, challenge.linkNonce)
        // Linked already, but it asks again: it may have missed its approvals (a lost `linked`).
        if (verdict.links.length > 0) this.send({ type: 'linked', links: [...verdict.links] })
      }
    }
    const { remoteAddress } = this.connection
    const claim = await admission.claim(challenge.member, remoteAddress, challenge.invite)
    if (!this.challenged()) return
    if (claim.kind === 'refuse' && (claim.code === 'banned' || claim.code === 'unlinked')) {
      // Fatal: a banned or unlinked key has nothing to try again with.
      this.fail(claim.code, claim.message)
      return
    }
    if (claim.kind === 'refuse') {
      this.reject(claim.code, claim.message)
      // Said while still challenged, so the log names the name refused; unless that closed it.
      if (this.challenged()) this.state = HELLO
      return
    }
    const pendingStatus = delivery.status()
    const group = pendingStatus instanceof Promise ? await pendingStatus : pendingStatus
    if (!this.challenged()) return
    const member = { kind: 'member' as const, ...challenge.member }
    this.state = member
    clearTimeout(this.authTimer)
    this.admittedHead = this.host.fanout.deliveredHead()
    this.host.admit(this, member, group)
  }

  /** A new device of the name: it waits, not admitted, until a device of the name approves it. */
  private async waitForApproval(challenge: Challenge, nonce: string): Promise<void> {
    const device: WaitingDevice = {
      member: challenge.member,
      nonce,
      address: this.connection.remoteAddress,
      approved: (links) => {
        if (this.state.kind !== 'linking') return
        this.send({ type: 'linked', links: [...links] })
        this.state = { kind: 'challenged', challenge }
        this.onAuth(challenge, 'approved').catch(this.internalError)
      },
      expired: () => {
        if (this.state.kind === 'linking') {
          this.fail(
            'link_expired',
            'not linked: no device of yours approved it in time, or it could not be',
          )
        }
      },
    }
    // Its own timer now: a person needs longer than the join timeout to type the code.
    clearTimeout(this.authTimer)
    this.state = { kind: 'linking', challenge, device }
    const waiting = await this.host.links.wait(device)
    if (this.state.kind !== 'linking' || this.state.device !== device) return
    if (typeof waiting !== 'number') {
      this.fail(waiting.code, waiting.message)
      return
    }
    this.send({ type: 'link-waiting', expiresAt: waiting })
  }

  private onMemberFrame(member: Member, frame: ClientFrame): MaybePromise<void> {
    const { delivery } = this.host
    switch (frame.type) {
      case 'app':
        if (!this.host.inGroup(member)) return appFromOutside(this.reader(), frame.ciphertext)
        logApp(this.host, member, frame.ciphertext, this.internalError)
        return
      case 'resume':
        return replay(this.reader(), frame.afterSeq)
      case 'ping':
        this.send({ type: 'pong', nonce: frame.nonce })
        return
      case 'who':
        this.send({
          type: 'members',
          ...this.host.presence.page(frame.after, this.host.limits.membersPage),
        })
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
      default:
        return this.onDeviceFrame(member, frame)
    }
  }

  /** This member as its messages and replays see it; made per frame, not kept. */
  private reader(): SessionReader {
    return {
      host: this.host,
      connection: this.connection,
      admittedHead: this.admittedHead,
      answeredAt: this.answeredAt,
      member: () => this.member,
      reject: (code, message) => this.reject(code, message),
      send: (frame) => this.send(frame),
      internalError: this.internalError,
    }
  }

  private async onDeviceFrame(member: Member, frame: DeviceFrame): Promise<void> {
    const answer = await deviceFrame(this.host, member, frame)
    if (!this.member) return
    if (answer.type === 'error') this.tell(answer.code, answer.message, frame.type)
    else this.send(answer)
  }
}

function expireAuth(session: MemberSession): void {
  session.expireAuth()
}
