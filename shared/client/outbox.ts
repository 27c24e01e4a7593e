// Own messages on their way: encrypted in the order they were sent, paced under the server's rate,
// kept until the log shows them (which is their acknowledgement), and sent again after a dropped
// connection. Each is reported as pending at once, then sent, or failed until retried. No sockets
// here; it hands frames to `send` and events to `report`.
import { encodeBase64url } from '../protocol/base64url.ts'
import type { ClientFrame, ServerLimits } from '../protocol/frames.ts'
import { createLimits, SMALL_FRAME_BYTES } from '../protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../protocol/token-bucket.ts'
import { ChatError } from './chat-error.ts'
import type { Clock } from './clock.ts'
import type { DeliveryEvent, OutgoingContent } from './events.ts'
import { type ClientState, encryptMessage, epochOf, groupIdOf, RETAINED_EPOCHS } from './mls.ts'
import { encodePayload, type Payload } from './payload.ts'
import type { SerialQueue } from './serial-queue.ts'
import type { TrustBook } from './trust-book.ts'

export interface SentMessage {
  readonly id: string
}

/** What the log showing one of our ciphertexts means: the first sight of a message, or a copy. */
export type OwnEcho =
  | { readonly kind: 'first'; readonly payload: Payload; readonly sent: DeliveryEvent }
  /** A message retried after a refusal that was logged after all, twice: show it once. */
  | { readonly kind: 'again' }

/** The server's rates before it says what it accepts (its defaults). */
const DEFAULTS = createLimits()
/**
 * The longest a message waits for our own commit in flight: past three of the server's default
 * commit timeouts it has surely been answered or given up on, and waiting longer would only hold
 * the message back.
 */
const OWN_COMMIT_WAIT_MS = 15_000

/** Stay well under the server's bucket, so no message is ever refused for rate. */
function pacingFor(rate: ServerLimits['rate']): ServerLimits['rate'] {
  return { perSecond: rate.perSecond * 0.75, burst: Math.max(1, Math.floor((rate.burst * 2) / 3)) }
}

/** MLS framing, padding and the binary frame's tag around a payload, in bytes, generously. */
const ENVELOPE_BYTES = 512

/** The length of the binary `app` frame a payload becomes: the ciphertext raw, and the rest. */
function frameBytesOf(plaintext: Uint8Array): number {
  return plaintext.length + ENVELOPE_BYTES
}

function contentOf(payload: Payload): OutgoingContent {
  if (payload.kind === 'text') return { kind: 'text', text: payload.text }
  const { name, size, truncated, sha256, bytes } = payload
  return { kind: 'file', name, size, truncated, sha256, bytes }
}

/** The ratchet moved but the device did not keep it: the ciphertext must not leave. */
class NotSaved extends Error {}

interface Outgoing {
  readonly payload: Payload
  readonly at: number
  state: DeliveryEvent['state']
  /** The latest ciphertext, and the group state it was made in. */
  made?: { readonly ciphertext: string; readonly groupId: string; readonly epoch: number }
  /** Sent on the connection open now: a refusal on it may be this message's. */
  onWire: boolean
  reason?: string
}

export interface OutboxOptions {
  readonly clock: Clock
  /** The queue frames are handled in: an encryption must not overlap a decryption. */
  readonly queue: SerialQueue
  readonly trust: TrustBook
  group(): ClientState | undefined
  replaceGroup(group: ClientState): void
  /** Writes the group state as it is now to the device, resolving once it is there. */
  saveGroup(): Promise<void>
  send(frame: ClientFrame): void
  /** Whether a frame sent now reaches the server (else it waits for `resend`). */
  connected(): boolean
  report(event: DeliveryEvent): void
  /** Resolves once our own commit in flight is merged or given up; undefined with none. */
  ownCommitSettled(): Promise<void> | undefined
}

export class Outbox {
  /** Own messages not yet seen in the log (pending or failed), in the order they were sent. */
  private readonly waiting = new Map<string, Outgoing>()
  /** Every ciphertext made and not yet seen in the log: MLS cannot decrypt our own. */
  private readonly byCiphertext = new Map<string, Outgoing>()
  private outbound: Promise<unknown> = Promise.resolve()
  private bucket: TokenBucket
  /** The server's byte budget for large frames (files), paced under as the frame rate is. */
  private byteBucket: TokenBucket
  /** Between `resume` and `resumed`: the log is being replayed, so new sends wait. */
  private catchingUp: PromiseWithResolvers<void> | undefined
  private readonly whenSettled = new Set<() => void>()

  constructor(private readonly options: OutboxOptions) {
    this.bucket = createTokenBucket(pacingFor(DEFAULTS.rate), options.clock.now)
    this.byteBucket = createTokenBucket(pacingFor(DEFAULTS.bytes), options.clock.now)
  }

  /** Own messages not yet seen in the log, failed ones included. */
  get unacknowledged(): number {
    return this.waiting.size
  }

  /** The server said what rate it accepts: pace under that from now on. */
  adopt(limits: ServerLimits): void {
    this.bucket = createTokenBucket(pacingFor(limits.rate), this.options.clock.now)
    this.byteBucket = createTokenBucket(pacingFor(limits.bytes), this.options.clock.now)
  }

  /**
   * Reports the message pending and sends it; resolves once it is encrypted and handed on, and
   * rejects with `send_failed` when it failed after being reported (the `failed` event says so).
   * What cannot be sent at all (a key change to accept, no group) is refused before any report.
   */
  send(payload: Payload): Promise<SentMessage> {
    const refusal = this.refusal()
    if (refusal) return Promise.reject(refusal)
    const outgoing: Outgoing = {
      payload,
      at: this.options.clock.now(),
      state: 'pending',
      onWire: false,
    }
    this.waiting.set(payload.id, outgoing)
    this.report(outgoing)
    return this.dispatch(outgoing)
  }

  /** Sends a failed message again, encrypted anew: pending once more, with the same id. */
  retry(id: string): Promise<SentMessage> {
    const outgoing = this.waiting.get(id)
    if (outgoing?.state !== 'failed') {
      return Promise.reject(new ChatError('unknown_message', 'no failed message has that id'))
    }
    const refusal = this.refusal()
    if (refusal) return Promise.reject(refusal)
    outgoing.state = 'pending'
    outgoing.reason = undefined
    this.report(outgoing)
    return this.dispatch(outgoing)
  }

  /** One of our ciphertexts came back in the log: that message is sent. */
  takeOwn(ciphertext: string): OwnEcho | undefined {
    const outgoing = this.byCiphertext.get(ciphertext)
    if (!outgoing) return undefined
    this.byCiphertext.delete(ciphertext)
    if (outgoing.state === 'sent') return { kind: 'again' }
    outgoing.state = 'sent'
    outgoing.reason = undefined
    this.waiting.delete(outgoing.payload.id)
    this.checkSettled()
    return { kind: 'first', payload: outgoing.payload, sent: this.eventOf(outgoing) }
  }

  /**
   * The server refused a frame of ours without saying which (`unavailable`, `rate_limited`, …):
   * every message on the wire not yet seen in the log fails. One the log shows later is sent
   * after all; the others wait for the user to retry, rather than for a reconnect that may never
   * come. Returns the ids of those that failed.
   */
  refused(reason: string): string[] {
    const failed: string[] = []
    for (const outgoing of this.waiting.values()) {
      if (outgoing.state !== 'pending' || !outgoing.onWire) continue
      this.fail(outgoing, reason)
      failed.push(outgoing.payload.id)
    }
    return failed
  }

  /** The connection is gone: what was on it is sent again after the next `resumed`. */
  offline(): void {
    for (const outgoing of this.waiting.values()) outgoing.onWire = false
  }

  /** Messages sent into a connection that dropped: the server may never have logged them. */
  resend(): void {
    const group = this.options.group()
    for (const outgoing of this.waiting.values()) {
      const { made } = outgoing
      if (outgoing.state !== 'pending' || !made) continue
      // Members keep only a few past epochs' keys, and none of a group that ended.
      const readable =
        group !== undefined &&
        groupIdOf(group) === made.groupId &&
        epochOf(group) - made.epoch < RETAINED_EPOCHS
      if (readable) this.transmit(outgoing, made.ciphertext)
      else this.fail(outgoing, 'the group changed before it reached the server')
    }
  }

  /** Resolves once everything sent so far is encrypted and sent, and seen in the log or failed. */
  async settled(): Promise<void> {
    await this.outbound
    if (!this.anyPending()) return
    const { promise, resolve } = Promise.withResolvers<void>()
    const done = () => {
      this.whenSettled.delete(done)
      resolve()
    }
    this.whenSettled.add(done)
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

  private refusal(): ChatError | undefined {
    const pending = this.options.trust.pendingChanges()
    if (pending.length > 0) {
      const names = pending.map((change) => change.name).join(', ')
      return new ChatError('key_change_unaccepted', `the key of ${names} changed: accept it first`)
    }
    if (!this.options.group()) return new ChatError('not_in_group', 'not in the group yet')
    return undefined
  }

  private dispatch(outgoing: Outgoing): Promise<SentMessage> {
    const { id } = outgoing.payload
    // Encrypt in call order: each message takes the next generation of this member's ratchet.
    const sent = this.outbound.then(async () => {
      // New messages wait until the missed log is read and the unacknowledged are resent.
      await this.catchingUp?.promise
      const plaintext = encodePayload(outgoing.payload)
      await this.paced(frameBytesOf(plaintext))
      // In the inbound queue: a frame being decrypted meanwhile would start from the same state,
      // and whichever wrote the group last would undo the other's ratchet step, so the next message
      // would reuse a generation that receivers have already used up.
      // Not while our own commit is in flight: a message encrypted now would be in the epoch the
      // commit ends, unreadable to whoever it adds. Checked in the queue, waited for outside it
      // (the commit is merged in it), and checked again in case another was made meanwhile. A
      // commit the server never answers is given up on by then, so a wait past that is not repeated.
      let late = false
      while (!(await this.options.queue.run(() => this.encrypt(outgoing, plaintext, late)))) {
        late = await this.commitWait()
      }
      return { id }
    })
    const reported = sent.catch((error: unknown) => {
      const reason = (error as Error).message
      this.fail(
        outgoing,
        error instanceof NotSaved ? reason : `it could not be encrypted: ${reason}`,
      )
      throw new ChatError('send_failed', reason)
    })
    this.outbound = reported.catch(() => {})
    return reported
  }

  /** Waits for our own commit in flight to settle; true when it took past OWN_COMMIT_WAIT_MS. */
  private async commitWait(): Promise<boolean> {
    const settled = this.options.ownCommitSettled()
    if (!settled) return false
    const timeout = this.options.clock.sleep(OWN_COMMIT_WAIT_MS).then(() => true)
    return Promise.race([settled.then(() => false), timeout])
  }

  /**
   * Encrypts and sends, in the inbound queue; false when our own commit is in flight (unless the
   * wait for it is over: `late`).
   */
  private async encrypt(
    outgoing: Outgoing,
    plaintext: Uint8Array,
    late: boolean,
  ): Promise<boolean> {
    // An earlier copy of a retried message reached the log meanwhile: it is sent already.
    if (outgoing.state !== 'pending') return true
    if (!late && this.options.ownCommitSettled()) return false
    const group = this.options.group()
    if (!group) throw new ChatError('not_in_group', 'not in the group')
    const encrypted = await encryptMessage(group, plaintext)
    this.options.replaceGroup(encrypted.state)
    // The ratchet's step is on the device before the ciphertext leaves it. Saved later, a crash
    // in between left the generation unused there: the next message after the restart took the
    // same key (only MLS's random 4-byte reuse guard kept the nonces apart), and a receiver that
    // read either could never read the other.
    try {
      await this.options.saveGroup()
    } catch (error) {
      throw new NotSaved(`it could not be saved on this device: ${(error as Error).message}`)
    }
    const ciphertext = encodeBase64url(encrypted.ciphertext)
    outgoing.made = { ciphertext, groupId: groupIdOf(group), epoch: epochOf(group) }
    this.byCiphertext.set(ciphertext, outgoing)
    this.transmit(outgoing, ciphertext)
    return true
  }

  private transmit(outgoing: Outgoing, ciphertext: string): void {
    this.options.send({ type: 'app', ciphertext })
    outgoing.onWire = this.options.connected()
  }

  private fail(outgoing: Outgoing, reason: string): void {
    if (outgoing.state !== 'pending') return
    outgoing.state = 'failed'
    outgoing.onWire = false
    outgoing.reason = reason
    this.report(outgoing)
    this.checkSettled()
  }

  private report(outgoing: Outgoing): void {
    this.options.report(this.eventOf(outgoing))
  }

  private eventOf(outgoing: Outgoing): DeliveryEvent {
    const { payload, at, state, reason } = outgoing
    return {
      type: 'delivery',
      id: payload.id,
      state,
      at,
      content: contentOf(payload),
      ...(reason === undefined ? {} : { reason }),
    }
  }

  private anyPending(): boolean {
    for (const outgoing of this.waiting.values()) if (outgoing.state === 'pending') return true
    return false
  }

  private checkSettled(): void {
    if (!this.anyPending()) for (const done of [...this.whenSettled]) done()
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
