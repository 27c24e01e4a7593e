// A load client's connections: members that join the room and send, idle ones that only listen.
import type { ClientTransport, TransportEvents } from '../../shared/client/transport.ts'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../../shared/crypto/identity-key.ts'
import { encodeFrame } from '../../shared/protocol/codec.ts'
import { authMessage } from '../../shared/protocol/frames.ts'
import type { ClientCommand, Target } from '../ipc.ts'
import { type LinkEndpoint, type TappedLink, tappedLink } from '../links.ts'
import type { FromJoinWorker, ToJoinWorker } from './join-bridge.ts'
import { benchFrame, newReceiver, type Receiver, tapFor } from './tally.ts'

interface Sender {
  send(wire: string | Uint8Array<ArrayBuffer>): void
}

interface IdleMember {
  readonly name: string
  link?: ClientTransport
  identity?: IdentityKeyPair
  ready: boolean
  admitted?: PromiseWithResolvers<void>
}

let target: Target | undefined
let messageBytes = 64
export const senders: Sender[] = []
/** The run-wide number of `senders[0]`: members may be spread over several load clients. */
let firstSender = 0
export const senderNumber = (index: number) => firstSender + index
const idle: IdleMember[] = []

export function setup(next: Target, bytes: number): void {
  target = next
  messageBytes = bytes
}

export function requireTarget(): Target {
  if (!target) throw new Error('setup first')
  return target
}

/** A bench frame sized for the target set up. */
export function frameFor(
  frameStep: number,
  sender: number,
  seq: number,
  micros: number,
): string | Uint8Array<ArrayBuffer> {
  return benchFrame(target, messageBytes, frameStep, sender, seq, micros)
}

export function endpointOf(current: Target): LinkEndpoint {
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

// ---- members: senders that are real members of the room ------------------------------------

export async function joinMembers({
  names,
  transports,
  webPorts,
  groupSize,
  firstSender: first,
}: Extract<ClientCommand, { type: 'join-members' }>) {
  const current = requireTarget()
  firstSender = first
  if (current.kind === 'reference') {
    await Promise.all(
      names.map(async () => {
        const link = await openPlain(newReceiver())
        senders.push({ send: (text) => link.send(text) })
      }),
    )
    return
  }
  const links = names.map((_, index) => {
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
    senders.push({ send: (text) => link.current()?.send(text) })
    return link
  })
  await joinInWorker(links, names, groupSize)
  // In the group now; from here on the bench writes their frames. Their connections stay open
  // (and they stay in the room and the group); their engines went with the worker.
  Bun.gc(true)
}

/**
 * The members' engines join the group in a Worker (join-worker.ts) through these links; then the
 * links are cut off from them and the Worker is let go, its heap with it.
 */
async function joinInWorker(
  links: readonly TappedLink[],
  names: readonly string[],
  groupSize: number,
): Promise<void> {
  const worker = new Worker(new URL('./join-worker.ts', import.meta.url).href)
  const post = (message: ToJoinWorker) => worker.postMessage(message)
  const transports = new Map<number, ClientTransport>()
  const done = Promise.withResolvers<void>()
  worker.onerror = (event) => done.reject(new Error(`the join worker failed: ${event.message}`))
  worker.onmessage = ({ data: message }: MessageEvent<FromJoinWorker>) => {
    switch (message.type) {
      case 'open': {
        const { member } = message
        const events: TransportEvents = {
          frame: (frame) => post({ type: 'frame', member, frame }),
          invalid: (text) => post({ type: 'invalid', member, message: text }),
          closed: (reason) => post({ type: 'closed', member, reason }),
        }
        ;(links[member] as TappedLink).connect(events).then(
          (transport) => {
            transports.set(member, transport)
            post({ type: 'opened', member })
          },
          (error: Error) => post({ type: 'open-failed', member, message: error.message }),
        )
        return
      }
      case 'send':
        transports.get(message.member)?.send(message.wire)
        return
      case 'joined':
        done.resolve()
        return
      case 'failed':
        done.reject(new Error(message.message))
        return
    }
  }
  post({ type: 'join', names, groupSize })
  try {
    await done.promise
  } finally {
    for (const link of links) link.detach()
    worker.terminate()
  }
}

// ---- idle connections --------------------------------------------------------------------

export async function openIdle(name: string): Promise<void> {
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
  const tap = tapFor(receiver, () => member.ready)
  const link = tappedLink(
    endpointOf(current),
    'wss',
    (bytes, start, end) => {
      if (member.ready || !isReady(bytes, start, end)) return tap(bytes, start, end)
      // Read by its first bytes: decoding its page of 500 members (~200 µs, the schema's checks
      // on every name and key) made this client, not the server, what bounded the join rate.
      // The clients' own decoding of it is what the tests check.
      member.ready = true
      member.admitted?.resolve()
      return true
    },
    onClose,
  )
  const events: TransportEvents = {
    frame(frame) {
      if (frame.type === 'challenge' && member.identity) {
        void signWithIdentity(member.identity, authMessage(frame.nonce, name)).then((signature) =>
          member.link?.send(encodeFrame({ type: 'auth', signature })),
        )
      } else if (frame.type === 'ready') {
        // Should its text ever start otherwise, the decoded frame still counts.
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

/** How encodeFrame (and the server's ready-wire.ts) starts a `ready`. */
const READY_START = Buffer.from('{"type":"ready",')

function isReady(bytes: Buffer, start: number, end: number): boolean {
  const prefixEnd = start + READY_START.length
  return (
    prefixEnd <= end && bytes.compare(READY_START, 0, READY_START.length, start, prefixEnd) === 0
  )
}

export async function authIdle(concurrency: number): Promise<number> {
  // Keys are made before the clock starts: what is timed is the server admitting members.
  for (const member of idle) member.identity ??= await createIdentityKeyPair()
  const started = performance.now()
  await inParallel(idle.length, concurrency, async (index) => {
    const member = idle[index] as IdleMember
    if (member.ready || !member.link || !member.identity) return
    member.admitted = Promise.withResolvers<void>()
    member.link.send(
      encodeFrame({ type: 'hello', name: member.name, identityKey: member.identity.publicKeyText }),
    )
    await member.admitted.promise
  })
  return performance.now() - started
}

export async function inParallel(
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
