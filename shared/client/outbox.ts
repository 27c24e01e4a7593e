// Own messages on their way: encrypted in the order they were sent, paced under the server's rate,
// kept until the log shows them (which is their acknowledgement), and sent again after a dropped
// connection. No sockets here; it hands frames to `send`.
import { encodeBase64url } from '../protocol/base64url.ts'
import type { ClientFrame, ServerLimits } from '../protocol/frames.ts'
import { createLimits, SMALL_FRAME_BYTES } from '../protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../protocol/token-bucket.ts'
import { ChatError } from './chat-error.ts'
import type { Clock } from './clock.ts'
import { type ClientState, encryptMessage } from './mls.ts'
import { encodePayload, type Payload } from './payload.ts'
import type { SerialQueue } from './serial-queue.ts'
import type { TrustBook } from './trust-book.ts'

export interface SentMessage {
  readonly id: string
}

/** The server's rates before it says what it accepts (its defaults). */
const DEFAULTS = createLimits()

/** Stay well under the server's bucket, so no message is ever refused for rate. */
function pacingFor(rate: ServerLimits['rate']): ServerLimits['rate'] {
  return { perSecond: rate.perSecond * 0.75, burst: Math.max(1, Math.floor((rate.burst * 2) / 3)) }
}

/** MLS framing and the JSON envelope around a message's payload, in bytes, generously. */
const ENVELOPE_BYTES = 512

/** The length of the `app` frame a payload becomes: base64url of the ciphertext, and the rest. */
function frameBytesOf(plaintext: Uint8Array): number {
  return Math.ceil(((plaintext.length + ENVELOPE_BYTES) * 4) / 3) + ENVELOPE_BYTES
}

export interface OutboxOptions {
  readonly clock: Clock
  /** The queue frames are handled in: an encryption must not overlap a decryption. */
  readonly queue: SerialQueue
  readonly trust: TrustBook
  group(): ClientState | undefined
  replaceGroup(group: ClientState): void
  send(frame: ClientFrame): void
}

export class Outbox {
  /** Own messages sent but not yet seen in the log, by ciphertext: MLS cannot decrypt them. */
  private readonly unacked = new Map<string, Payload>()
  private outbound: Promise<unknown> = Promise.resolve()
  private bucket: TokenBucket
  /** The server's byte budget for large frames (files), paced under as the frame rate is. */
  private byteBucket: TokenBucket
  /** Between `resume` and `resumed`: the log is being replayed, so new sends wait. */
  private catchingUp: PromiseWithResolvers<void> | undefined
  private readonly whenEmpty = new Set<() => void>()

  constructor(private readonly options: OutboxOptions) {
    this.bucket = createTokenBucket(pacingFor(DEFAULTS.rate), options.clock.now)
    this.byteBucket = createTokenBucket(pacingFor(DEFAULTS.bytes), options.clock.now)
  }

  get unacknowledged(): number {
    return this.unacked.size
  }

  /** The server said what rate it accepts: pace under that from now on. */
  adopt(limits: ServerLimits): void {
    this.bucket = createTokenBucket(pacingFor(limits.rate), this.options.clock.now)
    this.byteBucket = createTokenBucket(pacingFor(limits.bytes), this.options.clock.now)
  }

  send(payload: Payload): Promise<SentMessage> {
    const pending = this.options.trust.pendingChanges()
    if (pending.length > 0) {
      const names = pending.map((change) => change.name).join(', ')
      return Promise.reject(
        new ChatError('key_change_unaccepted', `the key of ${names} changed: accept it first`),
      )
    }
    if (!this.options.group()) {
      return Promise.reject(new ChatError('not_in_group', 'not in the group yet'))
    }
    // Encrypt in call order: each message takes the next generation of this member's ratchet.
    const sent = this.outbound.then(async () => {
      // New messages wait until the missed log is read and the unacknowledged are resent.
      await this.catchingUp?.promise
      const plaintext = encodePayload(payload)
      await this.paced(frameBytesOf(plaintext))
      // In the inbound queue: a frame being decrypted meanwhile would start from the same state,
      // and whichever wrote the group last would undo the other's ratchet step, so the next message
      // would reuse a generation that receivers have already used up.
      return this.options.queue.run(async () => {
        const group = this.options.group()
        if (!group) throw new ChatError('not_in_group', 'not in the group')
        const encrypted = await encryptMessage(group, plaintext)
        this.options.replaceGroup(encrypted.state)
        const ciphertext = encodeBase64url(encrypted.ciphertext)
        this.unacked.set(ciphertext, payload)
        this.options.send({ type: 'app', ciphertext })
        return { id: payload.id }
      })
    })
    this.outbound = sent.catch(() => {})
    return sent
  }

  /** Our own message with this ciphertext came back in the log: it is acknowledged. */
  takeOwn(ciphertext: string): Payload | undefined {
    const payload = this.unacked.get(ciphertext)
    if (!payload) return undefined
    this.unacked.delete(ciphertext)
    if (this.unacked.size === 0) for (const done of [...this.whenEmpty]) done()
    return payload
  }

  /** Messages sent into a connection that dropped: the server may never have logged them. */
  resend(): void {
    for (const ciphertext of this.unacked.keys()) this.options.send({ type: 'app', ciphertext })
  }

  /** Resolves once everything sent so far is encrypted, sent, and seen in the room's log. */
  async settled(): Promise<void> {
    await this.outbound
    if (this.unacked.size === 0) return
    const { promise, resolve } = Promise.withResolvers<void>()
    const done = () => {
      this.whenEmpty.delete(done)
      resolve()
    }
    this.whenEmpty.add(done)
    return promise
  }

  /** The log is being replayed after a reconnect: new messages wait for it. */
  catchUp(): void {
    this.catchingUp = Promise.withResolvers<void>()
  }

  /** The replay is over (or the connection is gone): what waited may go. */
  caughtUp(): void {
    this.catchingUp?.resolve()
    this.catchingUp = undefined
  }

  private async paced(frameBytes: number): Promise<void> {
    while (!this.bucket.take()) await this.options.clock.sleep(this.bucket.waitMs())
    if (frameBytes <= SMALL_FRAME_BYTES) return
    // A frame larger than the whole bucket could never go: it waits for a full one instead.
    const bytes = Math.min(frameBytes, this.byteBucket.capacity)
    while (!this.byteBucket.take(bytes)) {
      await this.options.clock.sleep(this.byteBucket.waitMs(bytes))
    }
  }
}
