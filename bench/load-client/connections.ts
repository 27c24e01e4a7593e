// A load client's connections: members that join the room and send, idle ones that only listen.
import { createMemoryStores } from '../../shared/client/memory-stores.ts'
import { createChatSession } from '../../shared/client/session.ts'
import type { ClientTransport, TransportEvents } from '../../shared/client/transport.ts'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../../shared/crypto/identity-key.ts'
import { encodeFrame } from '../../shared/protocol/codec.ts'
import { authMessage } from '../../shared/protocol/frames.ts'
import type { Target } from '../ipc.ts'
import { type LinkEndpoint, tappedLink } from '../links.ts'
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

export async function joinMembers(
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
        senders.push({ send: (text) => link.send(text) })
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
    senders.push({ send: (text) => link.current()?.send(text) })
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
          member.link?.send(encodeFrame({ type: 'auth', signature })),
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
