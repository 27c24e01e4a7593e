// Joins and leaves while the room is under load (the soak): members from a fixed pool connect,
// say hello, sign the challenge, stay a moment after `ready` and disconnect. Room presence only:
// they never ask to join the MLS group, whose commits the bench's members (engines gone) could
// not make. A fixed pool, so every join after the first round is a name the key already holds.
import type { TransportEvents } from '../../shared/client/transport.ts'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../../shared/crypto/identity-key.ts'
import { encodeFrame } from '../../shared/protocol/codec.ts'
import { authMessage } from '../../shared/protocol/frames.ts'
import { type LinkEndpoint, tappedLink } from '../links.ts'

export interface ChurnResult {
  readonly joins: number
  readonly failed: number
  /** hello → ready, the slowest one. */
  readonly slowestJoinMs: number
}

const pool: Array<{ readonly name: string; readonly identity: IdentityKeyPair }> = []

/** One join: connect, hello, auth, `ready`, then stay `holdMs` and disconnect. */
async function joinOnce(
  endpoint: LinkEndpoint,
  member: (typeof pool)[number],
  transport: 'wss' | 'tls',
  holdMs: number,
): Promise<number> {
  let admitted = false
  const done = Promise.withResolvers<void>()
  // Nothing after `ready` is read: the room's traffic is not what a churner measures.
  const link = tappedLink(
    endpoint,
    transport,
    () => admitted,
    () => {},
  )
  const events: TransportEvents = {
    frame(frame) {
      if (frame.type === 'challenge') {
        void signWithIdentity(member.identity, authMessage(frame.nonce, member.name)).then(
          (signature) => opened.send(encodeFrame({ type: 'auth', signature })),
        )
      } else if (frame.type === 'ready') {
        admitted = true
        done.resolve()
      } else if (frame.type === 'error' && frame.fatal) {
        done.reject(new Error(`${member.name}: ${frame.code} ${frame.message}`))
      }
    },
    invalid() {},
    closed(reason) {
      done.reject(new Error(`${member.name}: closed (${reason})`))
    },
  }
  const opened = await link.connect(events)
  const started = performance.now()
  opened.send(
    encodeFrame({ type: 'hello', name: member.name, identityKey: member.identity.publicKeyText }),
  )
  try {
    await done.promise
    return performance.now() - started
  } finally {
    await Bun.sleep(holdMs)
    opened.close()
  }
}

/** `perSecond` joins on a fixed clock for `durationMs`, half over WebSocket, half on raw TLS. */
export async function churn(
  endpoint: LinkEndpoint,
  options: { poolSize: number; perSecond: number; durationMs: number; holdMs: number },
): Promise<ChurnResult> {
  while (pool.length < options.poolSize) {
    pool.push({ name: `churn${pool.length}`, identity: await createIdentityKeyPair() })
  }
  const total = Math.round((options.perSecond * options.durationMs) / 1000)
  const started = performance.now()
  const running: Array<Promise<void>> = []
  let joins = 0
  let failed = 0
  let slowestJoinMs = 0
  for (let index = 0; index < total; index += 1) {
    const due = started + (index * 1000) / options.perSecond
    const wait = due - performance.now()
    if (wait > 0) await Bun.sleep(wait)
    // Each name is used once at a time: a second connection would displace the first.
    const member = pool[index % options.poolSize] as (typeof pool)[number]
    const transport = index % 2 === 0 ? 'wss' : 'tls'
    running.push(
      joinOnce(endpoint, member, transport, options.holdMs).then(
        (ms) => {
          joins += 1
          slowestJoinMs = Math.max(slowestJoinMs, ms)
        },
        () => {
          failed += 1
        },
      ),
    )
  }
  await Promise.all(running)
  return { joins, failed, slowestJoinMs }
}
