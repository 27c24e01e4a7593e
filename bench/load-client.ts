// The load generator, one process of it per share of the connections, pinned away from the server
// so its work is never charged there. It does what the orchestrator asks over IPC (join members,
// open idle connections, send on an open-loop clock, run closed-loop bursts) and times every
// delivery of the bench's own frames, whose header carries step, sender, sequence and send time.
import * as v from 'valibot'
import { createMemoryStores } from '../shared/client/memory-stores.ts'
import { createChatSession } from '../shared/client/session.ts'
import type { ClientTransport, TransportEvents } from '../shared/client/transport.ts'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../shared/crypto/identity-key.ts'
import { encodeFrame } from '../shared/protocol/codec.ts'
import { authMessage } from '../shared/protocol/frames.ts'
import { createHistogram, type Histogram, record, toSparse } from './histogram.ts'
import { type ClientCommand, ClientCommandSchema, type ClientReply, type Target } from './ipc.ts'
import { startLagMonitor } from './lag.ts'
import { type LinkEndpoint, type Tap, tappedLink } from './links.ts'

/** Starts every bench frame's header; only base64url characters, so it fits in a ciphertext. */
const MARKER = 'BENCHx'
const MARKER_BYTES = Buffer.from(MARKER)
const X = 120 // 'x', the header's separator
const ZERO = 48
const DOTS = '.'.repeat(65_536)
const AS = 'A'.repeat(65_536)
/** A closed-loop round that has not completed by then lost a message: the run stops there. */
const ROUND_TIMEOUT_MS = 5_000

interface Receiver {
  /** The next sequence number expected from each sender in this step; lower ones are gaps. */
  next: Int32Array
  closed: boolean
}

interface Sender {
  send(text: string): void
}

const lag = startLagMonitor()
let target: Target | undefined
let messageBytes = 64
const senders: Sender[] = []
const receivers: Receiver[] = []
const idle: IdleMember[] = []

// The step being measured; frames of any other step are stragglers and are not counted.
let step = -1
let histogram: Histogram = createHistogram()
let delivered = 0
let gaps = 0
let seqs = new Int32Array(0)
let onDelivery: (() => void) | undefined

/** Wall-clock microseconds, comparable between processes (performance.now() alone is not). */
function nowMicros(): number {
  return (performance.timeOrigin + performance.now()) * 1000
}

function benchFrame(frameStep: number, sender: number, seq: number, micros: number): string {
  const header = `${MARKER}${frameStep}x${sender}x${seq}x${Math.round(micros)}x`
  if (!target || target.kind === 'reference') {
    return header + DOTS.slice(0, Math.max(0, messageBytes - header.length))
  }
  const padding = AS.slice(0, Math.max(0, target.ciphertextLength - header.length))
  return `{"type":"app","ciphertext":"${header}${padding}"}`
}

let cursor = 0

let cursorEnd = 0

/** Reads the decimal field at `cursor` up to its 'x', and moves past it. */
function readField(payload: Buffer): number {
  let value = 0
  for (let code = payload[cursor++]; code !== X; code = payload[cursor++]) {
    if (code === undefined || cursor > cursorEnd) return -1
    value = value * 10 + code - ZERO
  }
  return value
}

/** Reads the header at `from` (just past the marker), straight from the bytes: no decoding. */
function observe(receiver: Receiver, payload: Buffer, from: number, end: number): void {
  cursor = from
  cursorEnd = end
  if (readField(payload) !== step) return
  const sender = readField(payload)
  const seq = readField(payload)
  const sentAt = readField(payload)
  record(histogram, nowMicros() - sentAt)
  delivered += 1
  const expected = receiver.next[sender]
  if (expected !== undefined) {
    if (seq > expected) gaps += seq - expected
    if (seq >= expected) receiver.next[sender] = seq + 1
  }
  onDelivery?.()
}

function tapFor(receiver: Receiver, takeOthers: () => boolean): Tap {
  return (bytes, start, end) => {
    const at = bytes.indexOf(MARKER_BYTES, start)
    if (at < 0 || at >= end) return takeOthers()
    observe(receiver, bytes, at + MARKER_BYTES.length, end)
    return true
  }
}

function newReceiver(): Receiver {
  const receiver: Receiver = { next: new Int32Array(seqs.length), closed: false }
  receivers.push(receiver)
  return receiver
}

function endpointOf(current: Target): LinkEndpoint {
  return {
    host: current.host,
    webPort: current.webPort,
    path: current.kind === 'product' ? '/ws' : '/',
    termPort: current.kind === 'product' ? current.termPort : 0,
    ca: current.ca,
  }
}

/** The reference has no protocol: a bare link whose every message goes to the tap. */
async function openPlain(receiver: Receiver): Promise<ClientTransport> {
  const link = tappedLink(
    endpointOf(requireTarget()),
    'wss',
    tapFor(receiver, () => true),
    () => {
      receiver.closed = true
    },
  )
  return link.connect({ frame() {}, invalid() {}, closed() {} })
}

function requireTarget(): Target {
  if (!target) throw new Error('setup first')
  return target
}

// ---- members: senders that are real members of the room ------------------------------------

async function joinMembers(
  names: string[],
  transports: Array<'wss' | 'tls'>,
  webPorts: number[] | undefined,
  groupSize: number,
) {
  const current = requireTarget()
  if (current.kind === 'reference') {
    await Promise.all(
      names.map(async () => {
        const link = await openPlain(newReceiver())
        senders.push({ send: (text) => link.sendText(text) })
      }),
    )
    return
  }
  const joined = names.map((name, index) => {
    const receiver = newReceiver()
    const endpoint = endpointOf(current)
    const link = tappedLink(
      { ...endpoint, webPort: webPorts?.[index] ?? endpoint.webPort },
      transports[index] ?? 'wss',
      tapFor(receiver, () => false),
      () => {
        receiver.closed = true
      },
    )
    const session = createChatSession({
      connect: link.connect,
      name,
      stores: createMemoryStores(),
      reconnect: false,
    })
    let groupMembers = 0
    session.on((event) => {
      if (event.type === 'membership') groupMembers = event.members.length
    })
    senders.push({ send: (text) => link.current()?.sendText(text) })
    return { session, link, size: () => groupMembers }
  })
  await Promise.all(joined.map(({ session }) => session.connect().then(() => session.whenReady())))
  // Every member must have processed the last commit before load starts, or its MLS work would
  // run during the measured step.
  const deadline = Date.now() + 300_000
  for (;;) {
    const epochs = new Set(joined.map(({ session }) => session.epoch()))
    if (joined.every(({ size }) => size() === groupSize) && epochs.size === 1) break
    if (Date.now() > deadline) throw new Error('the members never converged on one group')
    await Bun.sleep(20)
  }
  // In the group now; from here on the bench writes their frames. Their connections stay open
  // (and they stay in the room and the group); their engines go, and with them their heap.
  for (const { session, link } of joined) {
    link.detach()
    await session.close()
  }
  // The engines' last timers (a delayed save, a gap watch) hold them for up to a second.
  await Bun.sleep(1500)
  Bun.gc(true)
}

// ---- idle connections --------------------------------------------------------------------

interface IdleMember {
  readonly name: string
  link?: ClientTransport
  identity?: IdentityKeyPair
  ready: boolean
  admitted?: PromiseWithResolvers<void>
}

async function openIdle(name: string): Promise<void> {
  const current = requireTarget()
  const receiver = newReceiver()
  const onClose = () => {
    receiver.closed = true
  }
  if (current.kind === 'reference') {
    await openPlain(receiver)
    return
  }
  const member: IdleMember = { name, ready: false }
  // After `ready` nothing but bench frames matters: presence and the rest are dropped unread.
  const link = tappedLink(
    endpointOf(current),
    'wss',
    tapFor(receiver, () => member.ready),
    onClose,
  )
  const events: TransportEvents = {
    frame(frame) {
      if (frame.type === 'challenge' && member.identity) {
        void signWithIdentity(member.identity, authMessage(frame.nonce, name)).then((signature) =>
          member.link?.sendText(encodeFrame({ type: 'auth', signature })),
        )
      } else if (frame.type === 'ready') {
        member.ready = true
        member.admitted?.resolve()
      } else if (frame.type === 'error' && frame.fatal) {
        member.admitted?.reject(new Error(`${name}: ${frame.code} ${frame.message}`))
      }
    },
    invalid() {},
    closed(reason) {
      member.admitted?.reject(new Error(`${name}: closed (${reason})`))
    },
  }
  member.link = await link.connect(events)
  idle.push(member)
}

async function authIdle(concurrency: number): Promise<number> {
  // Keys are made before the clock starts: what is timed is the server admitting members.
  for (const member of idle) member.identity ??= await createIdentityKeyPair()
  const started = performance.now()
  await inParallel(idle.length, concurrency, async (index) => {
    const member = idle[index] as IdleMember
    if (member.ready || !member.link || !member.identity) return
    member.admitted = Promise.withResolvers<void>()
    member.link.sendText(
      encodeFrame({ type: 'hello', name: member.name, identityKey: member.identity.publicKeyText }),
    )
    await member.admitted.promise
  })
  return performance.now() - started
}

async function inParallel(
  count: number,
  concurrency: number,
  work: (index: number) => Promise<void>,
): Promise<{ done: number; failed: number; firstError?: string }> {
  let next = 0
  let done = 0
  let failed = 0
  let firstError: string | undefined
  const worker = async () => {
    while (next < count) {
      const index = next++
      try {
        await work(index)
        done += 1
      } catch (error) {
        failed += 1
        firstError ??= (error as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker))
  return { done, failed, firstError }
}

// ---- measuring -----------------------------------------------------------------------------

function arm(nextStep: number, senderCount: number): void {
  step = nextStep
  histogram = createHistogram()
  delivered = 0
  gaps = 0
  seqs = new Int32Array(senderCount)
  for (const receiver of receivers) receiver.next = new Int32Array(senderCount)
}

/**
 * Open loop: message k is due at k / rate seconds whatever the replies do. Each timer tick sends
 * all that are due, stamped with the time they leave, so a client that falls behind shows up as
 * `lateMs` (how far behind its clock it was at worst), not as server latency.
 */
async function sendOpenLoop(
  sendStep: number,
  rate: number,
  total: number,
): Promise<{ sent: number; elapsedMs: number; lateMs: number }> {
  const started = nowMicros()
  const intervalMicros = 1_000_000 / rate
  let sent = 0
  let lateMs = 0
  for (;;) {
    const now = nowMicros()
    const due = Math.min(total, Math.floor((now - started) / intervalMicros) + 1)
    if (due > sent) lateMs = Math.max(lateMs, (now - (started + sent * intervalMicros)) / 1000)
    for (; sent < due; sent += 1) {
      const index = sent % senders.length
      const seq = seqs[index] as number
      seqs[index] = seq + 1
      senders[index]?.send(benchFrame(sendStep, index, seq, nowMicros()))
    }
    if (sent >= total) break
    // Timers fire at 1 ms granularity at best; a shorter sleep would only spin.
    await Bun.sleep(Math.max(1, (started + sent * intervalMicros - nowMicros()) / 1000))
  }
  return { sent, elapsedMs: (nowMicros() - started) / 1000, lateMs }
}

async function collect(expectedPerReceiver: number, timeoutMs: number): Promise<ClientReply> {
  const started = performance.now()
  const expected = expectedPerReceiver * receivers.length
  while (delivered < expected && performance.now() - started < timeoutMs) await Bun.sleep(5)
  return {
    type: 'collected',
    receivers: receivers.length,
    delivered,
    expected,
    gaps,
    closed: receivers.filter((receiver) => receiver.closed).length,
    histogram: toSparse(histogram),
    max: histogram.max,
    elapsedMs: performance.now() - started,
  }
}

/** Bun's chat benchmark: every member sends one message, all wait for all, then again. */
async function bursts(burstStep: number, durationMs: number): Promise<ClientReply> {
  arm(burstStep, senders.length)
  const rounds = createHistogram()
  const perRound = senders.length * receivers.length
  const started = performance.now()
  const done = Promise.withResolvers<void>()
  let round = 0
  let inRound = 0
  let roundStarted = 0
  const startRound = () => {
    inRound = 0
    roundStarted = nowMicros()
    const seq = round
    round += 1
    for (let index = 0; index < senders.length; index += 1) {
      senders[index]?.send(benchFrame(burstStep, index, seq, roundStarted))
    }
  }
  onDelivery = () => {
    inRound += 1
    if (inRound < perRound) return
    record(rounds, nowMicros() - roundStarted)
    if (performance.now() - started < durationMs) setImmediate(startRound)
    else done.resolve()
  }
  const watchdog = setInterval(() => {
    if (nowMicros() - roundStarted > ROUND_TIMEOUT_MS * 1000) done.resolve()
  }, 100)
  startRound()
  await done.promise
  clearInterval(watchdog)
  onDelivery = undefined
  return {
    type: 'bursts-done',
    rounds: rounds.count,
    deliveries: delivered,
    elapsedMs: performance.now() - started,
    roundHistogram: toSparse(rounds),
    roundMax: rounds.max,
    histogram: toSparse(histogram),
    max: histogram.max,
    closed: receivers.filter((receiver) => receiver.closed).length,
  }
}

// ---- commands ------------------------------------------------------------------------------

async function handle(command: ClientCommand): Promise<ClientReply> {
  const started = performance.now()
  const ok = (): ClientReply => ({ type: 'ok', ms: performance.now() - started })
  switch (command.type) {
    case 'setup':
      target = command.target
      messageBytes = command.messageBytes
      return ok()
    case 'join-members':
      await joinMembers(command.names, command.transports, command.webPorts, command.groupSize)
      return ok()
    case 'open-idle': {
      const result = await inParallel(command.count, command.concurrency, (index) =>
        openIdle(`${command.prefix}${index}`),
      )
      if (result.firstError) console.error(`load client: ${result.firstError}`)
      return {
        type: 'opened',
        ms: performance.now() - started,
        opened: result.done,
        failed: result.failed,
      }
    }
    case 'auth-idle':
      if (requireTarget().kind === 'reference') return ok()
      return { type: 'ok', ms: await authIdle(command.concurrency) }
    case 'arm':
      arm(command.step, command.senders)
      return ok()
    case 'send': {
      const total = command.count ?? Math.round((command.rate * (command.durationMs ?? 0)) / 1000)
      return { type: 'sent', ...(await sendOpenLoop(command.step, command.rate, total)) }
    }
    case 'collect':
      return collect(command.expectedPerReceiver, command.timeoutMs)
    case 'bursts':
      return bursts(command.step, command.durationMs)
    case 'lag':
      return { type: 'lag', lag: lag.take() }
  }
}

// One command at a time, in order: the orchestrator matches replies to requests by position.
let queue: Promise<void> = Promise.resolve()
process.on('message', (message: unknown) => {
  queue = queue.then(async () => {
    let reply: ClientReply
    const parsed = v.safeParse(ClientCommandSchema, message)
    if (!parsed.success) {
      reply = { type: 'failed', message: 'not a command' }
    } else {
      try {
        reply = await handle(parsed.output)
      } catch (error) {
        reply = { type: 'failed', message: (error as Error).message }
      }
    }
    process.send?.(reply)
  })
})
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
