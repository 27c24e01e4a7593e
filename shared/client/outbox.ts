// Own messages on their way: encrypted in the order they were sent, paced under the server's rate,
// kept until the log shows them (which is their acknowledgement), and sent again after a dropped
// connection. Each is reported as pending at once, then sent, or failed until retried. What is on
// its way is also kept on the device (`keeper`), so a reload or a restart neither loses it nor sends
// it twice. No sockets or storage here; it hands frames to `send` and events to `report`.
import { encodeBase64url } from '../protocol/base64url.ts'
import type { ClientFrame, ServerLimits } from '../protocol/frames.ts'
import { ChatError } from './chat-error.ts'
import type { Clock } from './clock.ts'
import type { DeliveryEvent } from './events.ts'
import { type ClientState, encryptMessage, epochOf, groupIdOf, RETAINED_EPOCHS } from './mls.ts'
import { deliveryEventOf, type Outgoing, outgoingOf, recordOf } from './outgoing-message.ts'
import { encodePayload, type Payload } from './payload.ts'
import { SendPacer } from './send-pacer.ts'
import type { SerialQueue } from './serial-queue.ts'
import type { OutgoingRecord } from './stores.ts'
import type { TrustBook } from './trust-book.ts'

export interface SentMessage {
  readonly id: string
}

/** What the log showing one of our ciphertexts means: the first sight of a message, or a copy. */
export type OwnEcho =
  | { readonly kind: 'first'; readonly payload: Payload; readonly sent: DeliveryEvent }
  /** A message retried after a refusal that was logged after all, twice: show it once. */
  | { readonly kind: 'again' }

/**
 * The longest a message waits for our own commit in flight: past three of the server's default
 * commit timeouts it has surely been answered or given up on, and waiting longer would only hold
 * the message back.
 */
const OWN_COMMIT_WAIT_MS = 15_000

/** The ratchet moved but the device did not keep it: the ciphertext must not leave. */
class NotSaved extends Error {}

/** Where the messages on their way are kept between sessions (the history store, sealed). */
export interface OutboxKeeper {
  load(): Promise<OutgoingRecord[]>
  save(records: readonly OutgoingRecord[]): Promise<void>
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
  /** Keeps what is on its way on the device; without one, nothing outlives the session. */
  readonly keeper?: OutboxKeeper
}

export class Outbox {
  /** Own messages not yet seen in the log (pending or failed), in the order they were sent. */
  private readonly waiting = new Map<string, Outgoing>()
  /** Every ciphertext made and not yet seen in the log: MLS cannot decrypt our own. */
  private readonly byCiphertext = new Map<string, Outgoing>()
  private outbound: Promise<unknown> = Promise.resolve()
  private readonly pacer: SendPacer
  /** Between `resume` and `resumed`: the log is being replayed, so new sends wait. */
  private catchingUp: PromiseWithResolvers<void> | undefined
  private readonly whenSettled = new Set<() => void>()
  /** Writes of what is on its way, one after another; none before `restore` has read it back. */
  private keeping: Promise<void> | undefined
  private restoring: Promise<void> | undefined

  constructor(private readonly options: OutboxOptions) {
    this.pacer = new SendPacer(options.clock)
  }

  /** Own messages not yet seen in the log, failed ones included. */
  get unacknowledged(): number {
    return this.waiting.size
  }

  /** The server said what rate it accepts: pace under that from now on. */
  adopt(limits: ServerLimits): void {
    this.pacer.adopt(limits)
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
    void this.keep()
    return this.dispatch(outgoing)
  }

  /**
   * Takes back what an earlier session kept on its way, once, before this one sends: each is
   * reported as it was (pending or failed), ahead of anything sent since. Those it had encrypted
   * count as sent when the log shows their ciphertext and are otherwise sent again as they were;
   * the others are encrypted then, in the group as it is once the log is read (both in `resend`).
   */
  restore(): Promise<void> {
    this.restoring ??= this.takeBack()
    return this.restoring
  }

  private async takeBack(): Promise<void> {
    const records = (await this.options.keeper?.load().catch(() => [])) ?? []
    const newer = [...this.waiting.entries()]
    this.waiting.clear()
    for (const record of records) {
      const outgoing = outgoingOf(record)
      if (!outgoing || newer.some(([id]) => id === record.id)) continue
      this.waiting.set(outgoing.payload.id, outgoing)
      if (outgoing.made) this.byCiphertext.set(outgoing.made.ciphertext, outgoing)
      this.report(outgoing)
    }
    for (const [id, outgoing] of newer) this.waiting.set(id, outgoing)
    this.keeping = Promise.resolve()
    await this.keep()
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
    void this.keep()
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
    void this.keep()
    this.checkSettled()
    return { kind: 'first', payload: outgoing.payload, sent: deliveryEventOf(outgoing) }
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

  /**
   * Messages sent into a connection that dropped: the server may never have logged them. Called
   * once the log is read (or the group joined); those an earlier session never encrypted go now.
   */
  resend(): void {
    const group = this.options.group()
    for (const outgoing of this.waiting.values()) {
      const { made } = outgoing
      if (outgoing.restored) {
        outgoing.restored = false
        // Failures are reported as `failed` events; nobody awaits this one.
        if (outgoing.state === 'pending') this.dispatch(outgoing).catch(() => {})
        continue
      }
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

  /** Resolves once what is on its way is written as it is now (before the process exits). */
  async kept(): Promise<void> {
    await this.keeping
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
      // New messages wait until the missed log is read and the unacknowledged are resent, and
      // behind what an earlier session left on its way.
      await this.restoring
      await this.catchingUp?.promise
      const plaintext = encodePayload(outgoing.payload)
      await this.pacer.paced(plaintext)
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
    // Its ciphertext kept before it leaves: after a crash the log showing it means sent, and a
    // resend sends these bytes again, never a second encryption others would read twice.
    await this.keep()
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
    void this.keep()
    this.checkSettled()
  }

  /**
   * Writes what is on its way now, after the writes before it; resolves once written. A write that
   * fails is left for the next: keeping is a safeguard for a crash, never a reason not to send.
   */
  private keep(): Promise<void> {
    const { keeper } = this.options
    if (!keeper || !this.keeping) return Promise.resolve()
    const records = [...this.waiting.values()].map((outgoing) => recordOf(outgoing))
    this.keeping = this.keeping.then(() => keeper.save(records)).catch(() => {})
    return this.keeping
  }

  private report(outgoing: Outgoing): void {
    this.options.report(deliveryEventOf(outgoing))
  }

  private anyPending(): boolean {
    for (const outgoing of this.waiting.values()) if (outgoing.state === 'pending') return true
    return false
  }

  private checkSettled(): void {
    if (!this.anyPending()) for (const done of [...this.whenSettled]) done()
  }
}
