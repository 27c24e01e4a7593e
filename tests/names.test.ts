// Names as an attacker with an account would use them, over real TLS: binding thousands with one
// key, look-alikes of a bound name, reserved names and their look-alikes.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../shared/crypto/identity-key.ts'
import { authMessage, type ErrorFrame, type ServerFrame } from '../shared/protocol/frames.ts'
import { NAME_RATE_PER_ADDRESS, NAME_RATE_PER_KEY } from '../shared/protocol/limits.ts'
import {
  connectTls,
  join,
  startTestServer,
  type TestClient,
  type TestServer,
} from './support/harness.ts'

// Real servers and thousands of TLS handshakes on a shared two-core machine.
setDefaultTimeout(60_000)

/** Every frame the client receives, in order, and the link's end, as one stream to await. */
function frameStream(client: TestClient) {
  const queued: ServerFrame[] = []
  const waiting: Array<(frame: ServerFrame | 'closed') => void> = []
  client.inbox.push = (frame) => {
    const waiter = waiting.shift()
    if (waiter) waiter(frame)
    else queued.push(frame)
  }
  let closed = false
  void client.closed.then(() => {
    closed = true
    for (const waiter of waiting.splice(0)) waiter('closed')
  })
  return {
    next(): Promise<ServerFrame | 'closed'> {
      const frame = queued.shift()
      if (frame) return Promise.resolve(frame)
      if (closed) return Promise.resolve('closed')
      return new Promise((resolve) => waiting.push(resolve))
    },
  }
}

type Outcome = { readonly kind: 'ready' } | { readonly kind: 'refused'; readonly error: ErrorFrame }

/** hello → challenge → auth for `name` on an open client: admitted, or the error that refused it. */
async function tryName(
  client: TestClient,
  frames: ReturnType<typeof frameStream>,
  name: string,
  identity: IdentityKeyPair,
): Promise<Outcome | 'closed'> {
  client.send({ type: 'hello', name, identityKey: identity.publicKeyText })
  const challenge = await frames.next()
  if (challenge === 'closed') return 'closed'
  if (challenge.type === 'error') return { kind: 'refused', error: challenge }
  if (challenge.type !== 'challenge') throw new Error(`expected a challenge, got ${challenge.type}`)
  const signature = await signWithIdentity(identity, authMessage(challenge.nonce, name))
  client.send({ type: 'auth', signature })
  const answer = await frames.next()
  if (answer === 'closed') return 'closed'
  if (answer.type === 'ready') return { kind: 'ready' }
  if (answer.type === 'error') return { kind: 'refused', error: answer }
  throw new Error(`expected ready or an error, got ${answer.type}`)
}

/** One fresh connection that tries `name` once. */
async function claim(server: TestServer, name: string, identity: IdentityKeyPair) {
  await using client = await connectTls(server)
  const outcome = await tryName(client, frameStream(client), name, identity)
  if (outcome === 'closed') throw new Error(`the server closed the link on ${name}`)
  return outcome
}

/**
 * As many names as one key can bind in `ms`, on `parallel` connections at once: a new connection
 * after each name bound (an admitted member cannot say hello again), after every 10 refusals (so
 * the invalid-frame count never closes one) and after a frame dropped for rate (the connection's
 * or the address's), which leaves the exchange unfinished.
 */
async function bindFlat(server: TestServer, identity: IdentityKeyPair, ms: number, parallel = 8) {
  const deadline = performance.now() + ms
  const bound: string[] = []
  const refusals: ErrorFrame[] = []
  let dropped = 0
  let counter = 0
  async function worker(): Promise<void> {
    while (performance.now() < deadline) {
      await using client = await connectTls(server)
      const frames = frameStream(client)
      for (let tries = 0; tries < 10 && performance.now() < deadline; tries += 1) {
        const name = `squat${counter++}`
        const outcome = await tryName(client, frames, name, identity)
        if (outcome === 'closed') break
        if (outcome.kind === 'refused' && outcome.error.code === 'rate_limited') {
          dropped += 1
          break
        }
        if (outcome.kind === 'refused') {
          refusals.push(outcome.error)
          continue
        }
        bound.push(name)
        break
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker))
  return { bound, refusals, dropped, tried: counter }
}

describe('binding new names', () => {
  test('one identity key binds only its burst of new names in 3 s, then is told when to try again', async () => {
    await using server = await startTestServer()
    const identity = await createIdentityKeyPair()
    const { bound, refusals, dropped, tried } = await bindFlat(server, identity, 3000)
    console.log(
      `names bound by one key in 3 s: ${bound.length} of ${tried} tried ` +
        `(${refusals.length} refused, ${dropped} dropped for rate)`,
    )
    expect(bound.length).toBe(NAME_RATE_PER_KEY.burst)
    expect(refusals.length).toBeGreaterThan(0)
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ type: 'error', code: 'name_limited', fatal: false })
      expect(refusal.message).toMatch(/this identity key.*try again in \d+ (min|s)/)
    }
  })

  test('a key refused new names still comes back under every name it holds', async () => {
    await using server = await startTestServer()
    const identity = await createIdentityKeyPair()
    const names = ['first', 'second', 'third']
    for (const name of names) expect(await claim(server, name, identity)).toEqual({ kind: 'ready' })
    expect(await claim(server, 'fourth', identity)).toMatchObject({
      kind: 'refused',
      error: { code: 'name_limited', fatal: false },
    })
    for (const name of names) expect(await claim(server, name, identity)).toEqual({ kind: 'ready' })
    expect(await claim(server, 'fourth', identity)).toMatchObject({
      error: { code: 'name_limited' },
    })
  })

  test('one address binds only its burst of new names, whatever the keys, and reconnects freely', async () => {
    // The test server lifts the address's budget (its clients stand for many hosts): set it back.
    await using server = await startTestServer({
      limits: { nameRatePerAddress: NAME_RATE_PER_ADDRESS },
    })
    const { burst } = NAME_RATE_PER_ADDRESS
    const keys = await Promise.all(Array.from({ length: burst + 5 }, createIdentityKeyPair))
    const outcomes: Outcome[] = []
    for (const [index, identity] of keys.entries()) {
      outcomes.push(await claim(server, `person${index}`, identity))
    }
    console.log(
      `names bound from one address with ${keys.length} keys: ` +
        `${outcomes.filter((outcome) => outcome.kind === 'ready').length}`,
    )
    expect(outcomes.slice(0, burst)).toEqual(Array(burst).fill({ kind: 'ready' }))
    for (const outcome of outcomes.slice(burst)) {
      expect(outcome).toMatchObject({ kind: 'refused', error: { code: 'name_limited' } })
      if (outcome.kind === 'refused') {
        expect(outcome.error.message).toMatch(/this address.*try again in \d+ (min|s)/)
      }
    }
    expect(await claim(server, 'person0', keys[0] as IdentityKeyPair)).toEqual({ kind: 'ready' })
  })
})

describe('names that look like bound ones', () => {
  test('refuses aIice, a1ice, alice_ and rnallory beside alice and mallory, but not alicia', async () => {
    await using server = await startTestServer()
    await using alice = await connectTls(server)
    const { identity: aliceKey } = await join(alice, 'alice')
    await using mallory = await connectTls(server)
    await join(mallory, 'mallory', aliceKey)
    const other = await createIdentityKeyPair()
    const refused: Record<string, string> = {}
    for (const name of ['aIice', 'a1ice', 'ALlCE', 'alice_', 'a-lice', 'rnallory', 'MaIl0ry']) {
      const outcome = await claim(server, name, other)
      refused[name] = outcome.kind === 'refused' ? outcome.error.code : 'admitted'
    }
    console.log(`look-alikes of alice and mallory: ${JSON.stringify(refused)}`)
    expect(refused).toEqual({
      aIice: 'name_confusable',
      a1ice: 'name_confusable',
      ALlCE: 'name_confusable',
      alice_: 'name_confusable',
      'a-lice': 'name_confusable',
      rnallory: 'name_confusable',
      MaIl0ry: 'name_confusable',
    })
    expect(await claim(server, 'ALICE', other)).toMatchObject({ error: { code: 'name_taken' } })
    expect(await claim(server, 'alicia', other)).toEqual({ kind: 'ready' })
    // One key holds one spelling of a look: its own look-alike is refused too.
    expect(await claim(server, 'a1ice', aliceKey)).toMatchObject({
      error: { code: 'name_confusable', fatal: false },
    })
  })
})

describe('reserved names', () => {
  test('refuses admin, root, chatbox, moderator, operator, server, system and their look-alikes', async () => {
    await using server = await startTestServer()
    const identity = await createIdentityKeyPair()
    const names = [
      'admin',
      'Admin',
      'adm1n',
      'root',
      'r00t',
      'chatbox',
      'CHATB0X',
      'moderator',
      'rnoderator',
      'operator',
      'operat0r',
      'server',
      'system',
      'SYSTEM',
    ]
    const outcomes: Record<string, string> = {}
    for (const name of names) {
      const outcome = await claim(server, name, identity)
      outcomes[name] = outcome.kind === 'refused' ? outcome.error.code : 'admitted'
    }
    expect(outcomes).toEqual(Object.fromEntries(names.map((name) => [name, 'name_reserved'])))
    expect(await claim(server, 'administrator', identity)).toEqual({ kind: 'ready' })
  })
})
