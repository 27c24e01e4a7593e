// The link to the server: opening a transport, `hello` and the signed answer to the challenge, a
// ping to keep it alive, and reconnecting with backoff when it drops. It knows frames only as they
// come and go; what they mean is the other parts' business.
import { encodeFrame } from '../protocol/codec.ts'
import type { ClientFrame, ServerFrame } from '../protocol/frames.ts'
import { ChatError } from './chat-error.ts'
import type { Clock, Timer } from './clock.ts'
import type { EventHub } from './event-hub.ts'
import type { ConnectionStatus } from './events.ts'
import type { SerialQueue } from './serial-queue.ts'
import type { ClientTransport, ConnectTransport } from './transport.ts'

const PING_INTERVAL_MS = 25_000

export interface ConnectionOptions {
  readonly connect: ConnectTransport
  /** Reconnect after a lost connection, with exponential backoff and jitter; on by default. */
  readonly reconnect?: false | { readonly initialMs: number; readonly maxMs: number }
  readonly clock: Clock
  readonly hub: EventHub
  /** Every frame, and the loss of the link, is handled in this queue, one at a time. */
  readonly queue: SerialQueue
  /** Runs before each attempt: what `hello` needs must be ready by then. */
  prepare(): Promise<void>
  /** The first frame on a new link. */
  hello(): ClientFrame
  /** Handles one frame from the server, in arrival order. */
  receive(frame: ServerFrame): Promise<void>
  /** The link is gone (for now, or for good): what depended on it is to be let go. */
  lost(reason: string): Promise<void>
}

export class Connection {
  private transport: ClientTransport | undefined
  /** Whether the user wants to be connected: a loss is then followed by a new attempt. */
  private wanted = false
  private attempt = 0
  private reconnectTimer: Timer | undefined
  private pingTimer: Timer | undefined
  private admitted = Connection.deferred()
  private current: ConnectionStatus = 'closed'

  constructor(private readonly options: ConnectionOptions) {}

  get status(): ConnectionStatus {
    return this.current
  }

  get open(): boolean {
    return this.transport !== undefined
  }

  setStatus(next: ConnectionStatus, detail?: string): void {
    if (this.current === next && detail === undefined) return
    this.current = next
    this.options.hub.emit({ type: 'status', status: next, detail })
  }

  send(frame: ClientFrame): void {
    this.transport?.send(encodeFrame(frame))
  }

  /** Connects and resolves once the server admitted this client (`ready`). */
  async start(): Promise<void> {
    this.wanted = true
    this.attempt = 0
    this.admitted = Connection.deferred()
    await this.attemptOnce()
    await this.admitted.promise
  }

  /** The server said `ready`. */
  admit(): void {
    this.attempt = 0
    this.admitted.resolve()
  }

  /** The server refused this client; with `final`, no new attempt follows. */
  refuse(error: ChatError, final: boolean): void {
    if (final) this.wanted = false
    this.admitted.reject(error)
  }

  /** Stops for good: no reconnect, no ping; the transport is closed once `idle` says so. */
  stop(): void {
    this.wanted = false
    // A connect still waiting to be admitted (a new device waiting for approval) ends here.
    this.admitted.reject(new ChatError('not_connected', 'the connection was closed'))
    this.options.clock.clearTimeout(this.reconnectTimer)
    this.options.clock.clearInterval(this.pingTimer)
  }

  closeTransport(): void {
    this.transport?.close()
  }

  private async attemptOnce(): Promise<void> {
    const { options } = this
    await options.prepare()
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting')
    this.transport = await options.connect({
      frame: (frame) =>
        options.queue.push(
          () => options.receive(frame),
          (error) =>
            options.hub.warn(
              'protocol',
              `could not handle a ${frame.type} frame: ${(error as Error).message}`,
            ),
        ),
      invalid: (message) =>
        options.hub.warn('protocol', `the server sent an invalid frame: ${message}`),
      closed: (reason) =>
        options.queue.push(
          () => this.lose(reason),
          () => {},
        ),
    })
    this.send(options.hello())
    options.clock.clearInterval(this.pingTimer)
    this.pingTimer = options.clock.setInterval(() => this.send({ type: 'ping' }), PING_INTERVAL_MS)
  }

  private async lose(reason: string): Promise<void> {
    this.transport = undefined
    this.options.clock.clearInterval(this.pingTimer)
    await this.options.lost(reason)
    if (!this.wanted) {
      // A close this client asked for has already said so.
      if (this.current !== 'closed') this.setStatus('closed', reason)
      return
    }
    this.admitted.reject(new ChatError('not_connected', reason))
    this.admitted = Connection.deferred()
    this.scheduleReconnect(reason)
  }

  private scheduleReconnect(reason: string): void {
    const { options } = this
    if (options.reconnect === false) {
      this.wanted = false
      this.setStatus('closed', reason)
      return
    }
    const policy = options.reconnect ?? { initialMs: 500, maxMs: 30_000 }
    this.attempt += 1
    const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(this.attempt - 1, 16))
    // Full jitter: a server restart must not bring every client back in the same millisecond.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2)
    this.setStatus('reconnecting', `${reason}; trying again in ${Math.round(delay / 100) / 10} s`)
    options.clock.clearTimeout(this.reconnectTimer)
    this.reconnectTimer = options.clock.setTimeout(() => {
      if (!this.wanted) return
      this.attemptOnce().catch((error: Error) => this.scheduleReconnect(error.message))
    }, delay)
  }

  private static deferred(): PromiseWithResolvers<void> {
    const deferred = Promise.withResolvers<void>()
    // A refusal nobody awaits (a reconnect in the background) is not an unhandled rejection.
    deferred.promise.catch(() => {})
    return deferred
  }
}
