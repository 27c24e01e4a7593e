import { afterEach, describe, expect, test } from 'bun:test'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../../../shared/crypto/identity-key.ts'
import { decodeBinaryFrame } from '../../../shared/protocol/binary.ts'
import {
  decodeClientFrame,
  decodeServerFrame,
  type WireFrame,
} from '../../../shared/protocol/codec.ts'
import {
  authMessage,
  type ClientFrame,
  type ClientFrameType,
  type ErrorCode,
  type ErrorFrame,
  type ServerFrame,
} from '../../../shared/protocol/frames.ts'
import { createLimits, type Limits } from '../../../shared/protocol/limits.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import { createMlsMember } from '../../../tests/support/mls-member.ts'
import { keepEntries } from '../../../tests/support/retention.ts'
import { frameOf } from '../../../tests/support/wire.ts'
import type { ServerEvent } from '../observe/events.ts'
import { createLocalBackend, type LocalStores } from './local-backend.ts'
import { createMemoryStores } from './memory-stores.ts'
import type { Connection, LocalMembers } from './ports.ts'
import { createRoom, type Room, type Session } from './room.ts'

type FrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>

interface FakeConnection extends Connection {
  /** Every frame sent, decoded against the protocol. */
  readonly frames: ServerFrame[]
  /** The same frames exactly as sent: JSON text, or binary. */
  readonly wires: WireFrame[]
  /** One entry per `close` call: the farewell, or null when there was none. */
  readonly closes: Array<ErrorFrame | null>
  /** Frames sent after the first `close`: a closed connection must hear nothing more. */
  readonly sentAfterClose: WireFrame[]
  /** The first frame of `type` at or after index `from`, now or when it arrives. */
  next<T extends ServerFrame['type']>(type: T, from?: number): Promise<FrameOf<T>>
  /** Resolves with the farewell (or null) when the room closes this connection. */
  readonly closed: Promise<ErrorFrame | null>
  /** What the socket has not taken yet, as the test sets it. */
  buffered: number
}

let connectionCount = 0
/** Every fake connection of the running test, checked when it ends. */
const connections: FakeConnection[] = []

function createFakeConnection(): FakeConnection {
  const frames: ServerFrame[] = []
  const wires: WireFrame[] = []
  const closes: Array<ErrorFrame | null> = []
  const sentAfterClose: WireFrame[] = []
  const waiters: Array<() => void> = []
  const closed = Promise.withResolvers<ErrorFrame | null>()
  connectionCount += 1
  const connection: FakeConnection = {
    id: `fake-${connectionCount}`,
    transport: 'wss',
    remoteAddress: '127.0.0.1',
    frames,
    wires,
    closes,
    sentAfterClose,
    closed: closed.promise,
    buffered: 0,
    bufferedBytes: () => connection.buffered,
    send(wire) {
      if (closes.length > 0) sentAfterClose.push(wire)
      const decoded = decodeServerFrame(wire)
      // A frame with fields the protocol does not know would be stripped here, so compare too.
      const raw = typeof wire === 'string' ? JSON.parse(wire) : decodeBinaryFrame(wire, 'to-client')
      if (!decoded.ok || !Bun.deepEquals(raw, decoded.frame)) {
        throw new Error(`the room sent a frame outside the protocol: ${String(wire)}`)
      }
      // A batch of joins and leaves reads as its events, one by one, as a client handles them.
      if (decoded.frame.type === 'presences') frames.push(...decoded.frame.events)
      else frames.push(decoded.frame)
      wires.push(wire)
      for (const wake of waiters.splice(0)) wake()
    },
    close(farewell) {
      closes.push(farewell ?? null)
      closed.resolve(farewell ?? null)
    },
    next(type, from = 0) {
      const { promise, resolve, reject } = Promise.withResolvers<FrameOf<typeof type>>()
      const timer = setTimeout(() => reject(new Error(`no ${type} frame arrived`)), 2000)
      const look = () => {
        const found = frames.slice(from).find((frame) => frame.type === type)
        if (found) {
          clearTimeout(timer)
          resolve(found as FrameOf<typeof type>)
        } else {
          waiters.push(look)
        }
      }
      look()
      return promise
    },
  }
  connections.push(connection)
  return connection
}

/**
 * The key each test name joins with unless a test gives one: the group's roster lists leaves by
 * key, so a harness can say who is in the group before anyone has joined.
 */
const TEST_KEYS = new Map(
  await Promise.all(
    ['alice', 'bob', 'carol', 'dave'].map(
      async (name) => [name, await createIdentityKeyPair()] as const,
    ),
  ),
)

function testKey(name: string): IdentityKeyPair {
  const key = TEST_KEYS.get(nameKey(name))
  if (!key) throw new Error(`no test key for ${name}`)
  return key
}

interface Harness {
  readonly room: Room
  readonly stores: LocalStores
  readonly internalErrors: unknown[]
  /** Everything the room told the operator's event log. */
  readonly events: ServerEvent[]
  /** The room's clock, in milliseconds; tests move it by hand. */
  clock: number
  /** Says these names are the MLS group, as the Delivery Service does after a commit. */
  inGroup(...names: string[]): void
  /** Sends `name` a request to commit, as the Delivery Service does. */
  askToCommit(name: string): void
}

const harnesses: Harness[] = []

function createHarness(
  options: {
    limits?: Partial<Limits>
    secret?: string
    retention?: number
    /** Fills the stores before the room starts on them. */
    before?: (stores: LocalStores) => void
    /** The MLS group these tests' members are in; alice and bob unless given. */
    group?: string[]
    /** Joins and leaves batched per turn, as the server runs; one frame each otherwise. */
    batchPresence?: boolean
  } = {},
): Harness {
  const stores = createMemoryStores(keepEntries(options.retention ?? 100))
  options.before?.(stores)
  const internalErrors: unknown[] = []
  const events: ServerEvent[] = []
  const limits = createLimits(options.limits)
  const now = () => harness.clock
  const backend = createLocalBackend({
    stores,
    limits,
    now,
    close: () => {},
  })
  let local: LocalMembers | undefined
  const harness: Harness = {
    stores,
    internalErrors,
    events,
    clock: 1_000_000,
    inGroup(...names) {
      const roster = names.map((name) => testKey(name).publicKeyText)
      local?.groupChanged({ groupId: 'G'.repeat(22), epoch: 1, roster })
    },
    askToCommit(name) {
      const member = { name, identityKey: testKey(name).publicKeyText }
      local?.sendTo(member, { type: 'commit-request', epoch: 1, add: [], remove: [] })
    },
    room: createRoom({
      backend: {
        ...backend,
        delivery(members) {
          local = members
          return backend.delivery(members)
        },
      },
      limits,
      secret: options.secret,
      now,
      randomBytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
      // Each join and leave goes out at once, so these tests read them in order; batching has
      // its own test below.
      schedulePresence: options.batchPresence ? undefined : (send) => send(),
      reportInternalError: (error) => internalErrors.push(error),
      events: (event) => events.push(event),
    }),
  }
  // What the Delivery Service says after a commit; the room's tests send messages as members.
  harness.inGroup(...(options.group ?? ['alice', 'bob']))
  harnesses.push(harness)
  return harness
}

afterEach(() => {
  const ended = harnesses.splice(0)
  for (const harness of ended) harness.room.shutdown()
  expect(ended.flatMap((harness) => harness.internalErrors)).toEqual([])
  expect(connections.splice(0).flatMap((connection) => connection.sentAfterClose)).toEqual([])
})

interface Joined {
  readonly connection: FakeConnection
  readonly session: Session
  readonly identity: IdentityKeyPair
}

/** Sends hello, answers the challenge, and resolves with the first frame of `until` after it. */
async function hello<T extends ServerFrame['type']>(
  connection: FakeConnection,
  session: Session,
  name: string,
  identity: IdentityKeyPair,
  until: T,
): Promise<FrameOf<T>> {
  const from = connection.frames.length
  receiveFrame(session, { type: 'hello', name, identityKey: identity.publicKeyText })
  const challenge = await connection.next('challenge', from)
  const signature = await signWithIdentity(identity, authMessage(challenge.nonce, name))
  receiveFrame(session, { type: 'auth', signature })
  return connection.next(until, from)
}

async function join(room: Room, name: string, identity?: IdentityKeyPair): Promise<Joined> {
  const connection = createFakeConnection()
  const session = room.open(connection)
  const key = identity ?? testKey(name)
  await hello(connection, session, name, key, 'ready')
  return { connection, session, identity: key }
}

/** An entry is sent once the store's append has settled: a turn of the event loop covers it. */
function written(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function error(code: ErrorCode, fatal: boolean, about?: ClientFrameType) {
  const frame = { type: 'error' as const, code, message: expect.any(String) as string, fatal }
  return about ? { ...frame, about } : frame
}

/** A frame as a transport hands it over: decoded, with the length of its text. */
function receiveFrame(session: Session, frame: ClientFrame): void {
  session.receive(frame, JSON.stringify(frame).length)
}

function clientFrame(text: string): ClientFrame {
  const decoded = decodeClientFrame(text)
  if (!decoded.ok) throw new Error(decoded.message)
  return decoded.frame
}

/** The limits every `ready` carries, as the harness's room is set up. */
const LIMITS = {
  maxFileBytes: createLimits().maxFileBytes,
  rate: { perSecond: createLimits().rate.perSecond, burst: createLimits().rate.burst },
  bytes: { perSecond: createLimits().bytes.perSecond, burst: createLimits().bytes.burst },
}

const CHALLENGE = {
  type: 'challenge' as const,
  nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as string,
}

describe('joining', () => {
  test('admits a member with itself as the only member and head 0', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    const aliceMember = { name: 'alice', identityKey: alice.identity.publicKeyText }
    expect(alice.connection.frames).toEqual([
      CHALLENGE,
      {
        type: 'ready',
        name: 'alice',
        head: 0,
        members: [aliceMember],
        online: 1,
        next: null,
        group: null,
        limits: LIMITS,
      },
    ])
    expect(room.members()).toEqual([aliceMember])
  })

  test('tells present members about a newcomer, and the newcomer about everyone', async () => {
    const { room, clock } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'Bob')
    const aliceMember = { name: 'alice', identityKey: alice.identity.publicKeyText }
    const bobMember = { name: 'Bob', identityKey: bob.identity.publicKeyText }
    expect(alice.connection.frames.slice(2)).toEqual([
      { type: 'presence', event: 'join', ...bobMember, at: clock },
    ])
    expect(bob.connection.frames).toEqual([
      CHALLENGE,
      {
        type: 'ready',
        name: 'Bob',
        head: 0,
        members: [aliceMember, bobMember],
        online: 2,
        next: null,
        group: null,
        limits: LIMITS,
      },
    ])
  })

  test('refuses a name bound to another key, case-insensitively, and lets the client retry', async () => {
    const { room } = createHarness()
    await join(room, 'alice')
    const connection = createFakeConnection()
    const session = room.open(connection)
    const mallory = await createIdentityKeyPair()
    const refusal = await hello(connection, session, 'ALICE', mallory, 'error')
    expect(refusal).toEqual(error('name_taken', false))
    expect(connection.closes).toEqual([])

    const ready = await hello(connection, session, 'alice2', mallory, 'ready')
    expect(ready).toMatchObject({ name: 'alice2', head: 0 })
    expect(room.members().map((member) => member.name)).toEqual(['alice', 'alice2'])
  })

  test('refuses a name bound to another key even while its owner is away', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    receiveFrame(alice.session, { type: 'leave' })
    const connection = createFakeConnection()
    const session = room.open(connection)
    const refusal = await hello(
      connection,
      session,
      'alice',
      await createIdentityKeyPair(),
      'error',
    )
    expect(refusal).toEqual(error('name_taken', false))
  })

  test('lets the same key reconnect under the same name quietly, replacing the old connection', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    const bobSaw = bob.connection.frames.length

    const again = await join(room, 'alice', alice.identity)
    expect(alice.connection.closes).toEqual([error('replaced', true)])
    expect(again.connection.frames.at(-1)).toMatchObject({ type: 'ready', name: 'alice' })
    expect(bob.connection.frames.slice(bobSaw)).toEqual([])
    alice.session.closed('disconnect')
    expect(bob.connection.frames.slice(bobSaw)).toEqual([])
    expect(room.members().map((member) => member.name)).toEqual(['bob', 'alice'])
  })

  test('lets the same key in again under another case, announcing the new spelling', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    const bobSaw = bob.connection.frames.length

    const again = await join(room, 'ALICE', alice.identity)
    expect(alice.connection.closes).toEqual([error('replaced', true)])
    expect(again.connection.frames.at(-1)).toEqual({
      type: 'ready',
      name: 'ALICE',
      head: 0,
      members: [
        { name: 'bob', identityKey: bob.identity.publicKeyText },
        { name: 'ALICE', identityKey: alice.identity.publicKeyText },
      ],
      online: 2,
      next: null,
      group: null,
      limits: LIMITS,
    })
    expect(bob.connection.frames.slice(bobSaw)).toEqual([
      {
        type: 'presence',
        event: 'leave',
        name: 'alice',
        identityKey: alice.identity.publicKeyText,
        at: expect.any(Number),
        reason: 'replaced',
      },
      {
        type: 'presence',
        event: 'join',
        name: 'ALICE',
        identityKey: alice.identity.publicKeyText,
        at: expect.any(Number),
      },
    ])
    const bobSawRename = bob.connection.frames.length

    // The replaced connection hears nothing more, and its late close is not a departure.
    receiveFrame(again.session, { type: 'app', ciphertext: 'AQID' })
    alice.session.closed('disconnect')
    await written()
    expect(alice.connection.frames.filter((frame) => frame.type === 'app')).toEqual([])
    expect(bob.connection.frames.slice(bobSawRename).map((frame) => frame.type)).toEqual(['app'])
    expect(room.members().map((member) => member.name)).toEqual(['bob', 'ALICE'])
  })

  for (const name of ['al', '1alice', 'al ice', '\u0430lice']) {
    test(`refuses ${JSON.stringify(name)} with name_invalid and keeps the connection`, async () => {
      const { room } = createHarness()
      const connection = createFakeConnection()
      const session = room.open(connection)
      const key = await createIdentityKeyPair()
      receiveFrame(session, { type: 'hello', name, identityKey: key.publicKeyText })
      expect(connection.frames).toEqual([error('name_invalid', false)])
      expect(connection.closes).toEqual([])
    })
  }

  test('refuses the reserved name server with name_reserved', async () => {
    const { room } = createHarness()
    const connection = createFakeConnection()
    const session = room.open(connection)
    const key = await createIdentityKeyPair()
    receiveFrame(session, { type: 'hello', name: 'Server', identityKey: key.publicKeyText })
    expect(connection.frames).toEqual([error('name_reserved', false)])
    expect(connection.closes).toEqual([])
  })

  test('closes a connection whose signature does not match its key with auth_failed', async () => {
    const { room } = createHarness()
    const connection = createFakeConnection()
    const session = room.open(connection)
    const claimed = await createIdentityKeyPair()
    const signer = await createIdentityKeyPair()
    receiveFrame(session, { type: 'hello', name: 'alice', identityKey: claimed.publicKeyText })
    const challenge = await connection.next('challenge')
    const signature = await signWithIdentity(signer, authMessage(challenge.nonce, 'alice'))
    receiveFrame(session, { type: 'auth', signature })
    expect(await connection.closed).toEqual(error('auth_failed', true))
    expect(connection.frames).toEqual([CHALLENGE])
    expect(room.members()).toEqual([])
  })

  test('refuses a signature over another name', async () => {
    const { room } = createHarness()
    const connection = createFakeConnection()
    const session = room.open(connection)
    const key = await createIdentityKeyPair()
    receiveFrame(session, { type: 'hello', name: 'alice', identityKey: key.publicKeyText })
    const challenge = await connection.next('challenge')
    const signature = await signWithIdentity(key, authMessage(challenge.nonce, 'bob'))
    receiveFrame(session, { type: 'auth', signature })
    expect(await connection.closed).toEqual(error('auth_failed', true))
  })

  test('does not admit a connection that closes while its signature is being checked', async () => {
    const { room } = createHarness()
    const connection = createFakeConnection()
    const session = room.open(connection)
    const key = await createIdentityKeyPair()
    receiveFrame(session, { type: 'hello', name: 'alice', identityKey: key.publicKeyText })
    const challenge = await connection.next('challenge')
    receiveFrame(session, {
      type: 'auth',
      signature: await signWithIdentity(key, authMessage(challenge.nonce, 'alice')),
    })
    session.closed('disconnect')
    // Nothing to wait on when nothing is sent: give verification and the store time to answer.
    await Bun.sleep(20)
    expect(connection.frames).toEqual([CHALLENGE])
    expect(room.members()).toEqual([])
  })

  test('answers frames before hello with not_ready, but answers ping with pong', () => {
    const { room } = createHarness()
    const connection = createFakeConnection()
    const session = room.open(connection)
    receiveFrame(session, { type: 'app', ciphertext: 'AQID' })
    receiveFrame(session, { type: 'ping', nonce: 7 })
    receiveFrame(session, { type: 'ping' })
    expect(connection.frames).toEqual([
      error('not_ready', false, 'app'),
      { type: 'pong', nonce: 7 },
      { type: 'pong' },
    ])
    expect(connection.closes).toEqual([])
  })

  test('answers hello again while joined with unexpected_frame', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    receiveFrame(alice.session, {
      type: 'hello',
      name: 'alice',
      identityKey: alice.identity.publicKeyText,
    })
    expect(alice.connection.frames.at(-1)).toEqual(error('unexpected_frame', false))
  })
})

describe('messages', () => {
  test('stamps sender, sequence and time, and delivers the same text to every member', async () => {
    const harness = createHarness()
    const { room } = harness
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    const aliceSaw = alice.connection.frames.length
    const bobSaw = bob.connection.frames.length

    harness.clock = 2_000_000
    receiveFrame(
      alice.session,
      clientFrame('{"type":"app","ciphertext":"AAAA","from":"bob","seq":99}'),
    )
    harness.clock = 2_000_001
    receiveFrame(bob.session, { type: 'app', ciphertext: 'BBBB' })
    harness.clock = 2_000_002
    receiveFrame(alice.session, { type: 'app', ciphertext: 'CCCC' })
    await written()

    const expected: ServerFrame[] = [
      { type: 'app', seq: 1, from: 'alice', at: 2_000_000, ciphertext: 'AAAA' },
      { type: 'app', seq: 2, from: 'bob', at: 2_000_001, ciphertext: 'BBBB' },
      { type: 'app', seq: 3, from: 'alice', at: 2_000_002, ciphertext: 'CCCC' },
    ]
    expect(alice.connection.frames.slice(aliceSaw)).toEqual(expected)
    expect(bob.connection.frames.slice(bobSaw)).toEqual(expected)
    expect(alice.connection.wires.slice(aliceSaw)).toEqual(bob.connection.wires.slice(bobSaw))
  })

  test('answers a joined ping with pong', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    receiveFrame(alice.session, { type: 'ping', nonce: 3 })
    expect(alice.connection.frames.at(-1)).toEqual({ type: 'pong', nonce: 3 })
  })

  test('asks the first member who wants a group to found one', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    const member = await createMlsMember('alice', alice.identity)
    receiveFrame(alice.session, { type: 'key-package', keyPackage: await member.keyPackage() })
    expect(await alice.connection.next('found-request')).toEqual({ type: 'found-request' })
  })

  test('refuses a KeyPackage that carries another key than the one the member joined with', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    const impostor = await createMlsMember('alice')
    receiveFrame(alice.session, { type: 'key-package', keyPackage: await impostor.keyPackage() })
    expect(await alice.connection.next('error')).toEqual(error('key_mismatch', false))
    expect(alice.connection.frames.some((frame) => frame.type === 'found-request')).toBe(false)
  })
})

describe('a large room', () => {
  test('lists the first page in ready, the rest a page at a time on `who`, cursors unmoved by leaves', async () => {
    const { room } = createHarness({ limits: { membersPage: 2 } })
    const [alice, bob, carol] = [
      await join(room, 'alice'),
      await join(room, 'bob'),
      await join(room, 'carol'),
    ]
    const dave = await join(room, 'dave')
    const ready = await dave.connection.next('ready')
    const cursor = ready.next
    expect(ready.members.map((member) => member.name)).toEqual(['alice', 'bob'])
    expect(ready.online).toBe(4)
    expect(cursor).toBeNumber()
    // bob leaves before dave asks for the next page: nobody is skipped for it.
    bob.session.closed('disconnect')
    const from = dave.connection.frames.length
    receiveFrame(dave.session, { type: 'who', after: cursor ?? 0 })
    const page = await dave.connection.next('members', from)
    expect(page.members.map((member) => member.name)).toEqual(['carol', 'dave'])
    expect(page.next).toBeNull()
    expect(alice.connection.closes).toEqual([])
    expect(carol.connection.closes).toEqual([])
  })

  test('sends the joins and leaves of one turn as one frame, with the count, before what is logged', async () => {
    const { room, clock } = createHarness({ batchPresence: true })
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    const carol = await join(room, 'carol')
    await written()
    const aliceSaw = alice.connection.wires.length
    bob.session.closed('disconnect')
    carol.session.closed('disconnect')
    receiveFrame(alice.session, { type: 'app', ciphertext: 'AQID' })
    await written()
    const sent = alice.connection.wires.slice(aliceSaw).map(frameOf)
    expect(sent).toEqual([
      {
        type: 'presences',
        events: [
          expect.objectContaining({ event: 'leave', name: 'bob', reason: 'disconnect' }),
          expect.objectContaining({ event: 'leave', name: 'carol', reason: 'disconnect' }),
        ],
        online: 1,
      },
      { type: 'app', seq: 1, from: 'alice', at: clock, ciphertext: 'AQID' },
    ])
  })
})

describe('leaving', () => {
  test('tells the others a member quit, and sends the leaver nothing more', async () => {
    const { room, clock } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    const bobSaw = bob.connection.frames.length
    const aliceSaw = alice.connection.frames.length

    receiveFrame(alice.session, { type: 'leave' })
    receiveFrame(bob.session, { type: 'app', ciphertext: 'AQID' })
    await written()

    expect(alice.connection.closes).toEqual([null])
    expect(alice.connection.frames.length).toBe(aliceSaw)
    expect(bob.connection.frames.slice(bobSaw)).toEqual([
      {
        type: 'presence',
        event: 'leave',
        name: 'alice',
        identityKey: alice.identity.publicKeyText,
        at: clock,
        reason: 'quit',
      },
      { type: 'app', seq: 1, from: 'bob', at: clock, ciphertext: 'AQID' },
    ])
    expect(room.members().map((member) => member.name)).toEqual(['bob'])
  })

  test('tells the others a member disconnected when the transport loses the socket', async () => {
    const { room, clock } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    const bobSaw = bob.connection.frames.length

    alice.session.closed('disconnect')
    alice.session.closed('disconnect')

    expect(bob.connection.frames.slice(bobSaw)).toEqual([
      {
        type: 'presence',
        event: 'leave',
        name: 'alice',
        identityKey: alice.identity.publicKeyText,
        at: clock,
        reason: 'disconnect',
      },
    ])
  })
})

describe('resume', () => {
  test('replays what a member missed with the very same text, then says resumed', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    bob.session.closed('disconnect')
    const aliceSaw = alice.connection.frames.length
    for (const ciphertext of ['AAAA', 'BBBB', 'CCCC']) {
      receiveFrame(alice.session, { type: 'app', ciphertext })
    }
    await written()
    const live = alice.connection.wires.slice(aliceSaw)

    const back = await join(room, 'bob', bob.identity)
    expect(back.connection.frames.at(-1)).toMatchObject({ type: 'ready', head: 3 })
    const backSaw = back.connection.frames.length
    receiveFrame(back.session, { type: 'resume', afterSeq: 1 })
    await back.connection.next('resumed', backSaw)

    expect(back.connection.wires.slice(backSaw)).toEqual([
      live[1] as WireFrame,
      live[2] as WireFrame,
      JSON.stringify({ type: 'resumed', head: 3 }),
    ])
  })

  test('sends nothing more to a member whose connection closes during a replay', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    receiveFrame(alice.session, { type: 'app', ciphertext: 'AAAA' })
    await written()
    const saw = bob.connection.frames.length
    receiveFrame(bob.session, { type: 'resume', afterSeq: 0 })
    bob.session.closed('disconnect')
    // Nothing to wait on when nothing is sent: give the replay's awaits time to run out.
    await Bun.sleep(20)
    expect(bob.connection.frames.slice(saw)).toEqual([])
  })

  test('replays nothing for a member that is up to date', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    receiveFrame(alice.session, { type: 'app', ciphertext: 'AAAA' })
    await written()
    const saw = alice.connection.frames.length
    receiveFrame(alice.session, { type: 'resume', afterSeq: 1 })
    await alice.connection.next('resumed', saw)
    expect(alice.connection.frames.slice(saw)).toEqual([{ type: 'resumed', head: 1 }])
  })

  test('refuses to resume after a sequence number the room has not reached', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    receiveFrame(alice.session, { type: 'app', ciphertext: 'AAAA' })
    await written()
    const saw = alice.connection.frames.length
    receiveFrame(alice.session, { type: 'resume', afterSeq: 2 })
    expect(await alice.connection.next('error', saw)).toEqual(error('resume_ahead', false))
    expect(alice.connection.frames.slice(saw)).toEqual([error('resume_ahead', false)])
  })

  test('refuses to resume from before the oldest entry the log still holds', async () => {
    const { room } = createHarness({
      retention: 1,
      before(stores) {
        for (let index = 0; index < 1002; index += 1) {
          stores.log.append({ type: 'app', from: 'alice', at: 1, ciphertext: 'AA' })
        }
      },
    })
    const alice = await join(room, 'alice')
    expect(alice.connection.frames.at(-1)).toMatchObject({ type: 'ready', head: 1002 })

    const saw = alice.connection.frames.length
    receiveFrame(alice.session, { type: 'resume', afterSeq: 1000 })
    expect(await alice.connection.next('error', saw)).toEqual(error('resume_gap', false))

    const after = alice.connection.frames.length
    receiveFrame(alice.session, { type: 'resume', afterSeq: 1001 })
    await alice.connection.next('resumed', after)
    expect(alice.connection.frames.slice(after)).toEqual([
      { type: 'app', seq: 1002, from: 'alice', at: 1, ciphertext: 'AA' },
      { type: 'resumed', head: 1002 },
    ])
  })
})

describe('rate limit', () => {
  const rate = { perSecond: 10, burst: 5, strikes: 3 }

  /** A member with a full bucket and a frozen clock. */
  async function joinRested(harness: Harness): Promise<Joined> {
    const alice = await join(harness.room, 'alice')
    harness.clock += 1000
    return alice
  }

  function send(joined: Joined, count: number): void {
    for (let index = 0; index < count; index += 1) {
      receiveFrame(joined.session, { type: 'app', ciphertext: 'AQID' })
    }
  }

  function seqs(joined: Joined): number[] {
    return joined.connection.frames.flatMap((frame) => (frame.type === 'app' ? [frame.seq] : []))
  }

  test('drops frames past the burst with one rate_limited warning', async () => {
    const harness = createHarness({ limits: { rate } })
    const alice = await joinRested(harness)
    const saw = alice.connection.frames.length
    send(alice, 6)
    await written()
    // The refusal is immediate; the five accepted frames come back once written.
    expect(alice.connection.frames.slice(saw).map((frame) => frame.type)).toEqual([
      'error',
      'app',
      'app',
      'app',
      'app',
      'app',
    ])
    expect(alice.connection.frames[saw]).toEqual(error('rate_limited', false, 'app'))
    send(alice, 2)
    await written()
    expect(alice.connection.frames.length).toBe(saw + 6)
    expect(alice.connection.closes).toEqual([])
  })

  test('closes a connection that keeps sending past its strikes', async () => {
    const harness = createHarness({ limits: { rate } })
    const alice = await joinRested(harness)
    send(alice, 5 + rate.strikes)
    expect(alice.connection.closes).toEqual([])
    send(alice, 1)
    expect(alice.connection.closes).toEqual([error('rate_limited', true)])
    await written()
    // Written before the close: the five were logged, though the closed sender is not sent them.
    expect(seqs(alice)).toEqual([])
    expect((await harness.stores.log.readAfter(0, 10)).map((entry) => entry.seq)).toEqual([
      1, 2, 3, 4, 5,
    ])
  })

  test('lets frames through again once the clock has refilled the bucket', async () => {
    const harness = createHarness({ limits: { rate } })
    const alice = await joinRested(harness)
    send(alice, 6)
    harness.clock += 100
    send(alice, 2)
    await written()
    expect(seqs(alice)).toEqual([1, 2, 3, 4, 5, 6])
    harness.clock += 1000
    send(alice, 5)
    await written()
    expect(seqs(alice)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    expect(alice.connection.closes).toEqual([])
  })
})

describe('misbehaving connections', () => {
  test('closes a connection after more invalid frames than allowed', () => {
    const { room } = createHarness({ limits: { maxInvalidFrames: 2 } })
    const connection = createFakeConnection()
    const session = room.open(connection)
    session.reject('bad_json', 'the frame is not valid JSON')
    session.reject('bad_frame', 'the frame does not match the protocol')
    expect(connection.closes).toEqual([])
    session.reject('bad_json', 'the frame is not valid JSON')
    expect(connection.frames).toEqual([
      { type: 'error', code: 'bad_json', message: 'the frame is not valid JSON', fatal: false },
      {
        type: 'error',
        code: 'bad_frame',
        message: 'the frame does not match the protocol',
        fatal: false,
      },
    ])
    expect(connection.closes).toEqual([error('too_many_errors', true)])
  })

  test('says why and closes when the transport fails a connection', async () => {
    const { room, clock } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    const bobSaw = bob.connection.frames.length
    alice.session.fail('frame_too_large', 'the frame is larger than allowed')
    expect(alice.connection.closes).toEqual([
      {
        type: 'error',
        code: 'frame_too_large',
        message: 'the frame is larger than allowed',
        fatal: true,
      },
    ])
    expect(bob.connection.frames.slice(bobSaw)).toEqual([
      {
        type: 'presence',
        event: 'leave',
        name: 'alice',
        identityKey: alice.identity.publicKeyText,
        at: clock,
        reason: 'dropped',
      },
    ])
  })

  test('closes a connection that has not joined within the auth timeout', async () => {
    const { room } = createHarness({ limits: { authTimeoutMs: 50 } })
    const connection = createFakeConnection()
    room.open(connection)
    expect(await connection.closed).toEqual(error('auth_timeout', true))
    expect(connection.frames).toEqual([])
  })

  test('does not time out a member that joined in time', async () => {
    const { room } = createHarness({ limits: { authTimeoutMs: 50 } })
    const alice = await join(room, 'alice')
    await Bun.sleep(80)
    expect(alice.connection.closes).toEqual([])
  })
})

describe('room secret', () => {
  const secret = 'open sesame'

  test('asks for the secret when hello comes without one', async () => {
    const { room } = createHarness({ secret })
    const connection = createFakeConnection()
    const session = room.open(connection)
    const key = await createIdentityKeyPair()
    receiveFrame(session, { type: 'hello', name: 'alice', identityKey: key.publicKeyText })
    expect(connection.frames).toEqual([error('bad_secret', false)])
    expect(connection.closes).toEqual([])
  })

  test('closes a connection that gives the wrong secret', async () => {
    const { room } = createHarness({ secret })
    const connection = createFakeConnection()
    const session = room.open(connection)
    const key = await createIdentityKeyPair()
    receiveFrame(session, {
      type: 'hello',
      name: 'alice',
      identityKey: key.publicKeyText,
      secret: 'open sesame!',
    })
    expect(connection.frames).toEqual([])
    expect(connection.closes).toEqual([error('bad_secret', true)])
  })

  test('challenges a connection that gives the right secret', async () => {
    const { room } = createHarness({ secret })
    const connection = createFakeConnection()
    const session = room.open(connection)
    const key = await createIdentityKeyPair()
    receiveFrame(session, { type: 'hello', name: 'alice', identityKey: key.publicKeyText, secret })
    expect(connection.frames).toEqual([CHALLENGE])
  })
})

describe('shutdown', () => {
  test('tells every connection the server is going away and closes it', async () => {
    const { room } = createHarness()
    const alice = await join(room, 'alice')
    const bob = await join(room, 'bob')
    const stranger = createFakeConnection()
    room.open(stranger)
    const bobSaw = bob.connection.frames.length

    room.shutdown()

    for (const connection of [alice.connection, bob.connection, stranger]) {
      expect(connection.closes).toEqual([error('going_away', true)])
    }
    // Everyone here is closing, so nobody here is sent the others' departures.
    expect(bob.connection.frames.slice(bobSaw)).toEqual([])
    expect(room.members()).toEqual([])
  })
})

describe('abuse limits', () => {
  const app = (size: number) => ({ type: 'app' as const, ciphertext: 'A'.repeat(size) })

  test('logs messages only from members of the group, and a newcomer’s once it is added', async () => {
    const harness = createHarness({ group: ['alice'] })
    await join(harness.room, 'alice')
    const bob = await join(harness.room, 'bob')
    const saw = bob.connection.frames.length
    receiveFrame(bob.session, app(4))
    await written()
    expect(bob.connection.frames.slice(saw)).toEqual([error('not_in_group', false)])
    expect(harness.stores.log.head()).toBe(0)
    harness.inGroup('alice', 'bob')
    receiveFrame(bob.session, app(4))
    await written()
    expect(harness.stores.log.head()).toBe(1)
  })

  test('counts the bytes of large frames, and drops what is past the budget', async () => {
    const harness = createHarness({ limits: { bytes: { perSecond: 1, burst: 30_000 } } })
    const alice = await join(harness.room, 'alice')
    const saw = alice.connection.frames.length
    // About 9 KB each: three fit the budget, the fourth does not.
    for (let index = 0; index < 4; index += 1) receiveFrame(alice.session, app(9000))
    await written()
    expect(harness.stores.log.head()).toBe(3)
    expect(alice.connection.frames.slice(saw)[0]).toEqual(error('rate_limited', false, 'app'))
    // Small frames are paced by the frame rate alone.
    receiveFrame(alice.session, app(100))
    await written()
    expect(harness.stores.log.head()).toBe(4)
  })

  test('shares one budget among every connection from an address', async () => {
    const harness = createHarness({ limits: { addressBytes: { perSecond: 1, burst: 30_000 } } })
    const alice = await join(harness.room, 'alice')
    const bob = await join(harness.room, 'bob')
    receiveFrame(alice.session, app(9000))
    receiveFrame(alice.session, app(9000))
    receiveFrame(bob.session, app(9000))
    receiveFrame(bob.session, app(9000))
    await written()
    expect(harness.stores.log.head()).toBe(3)
  })

  test('never counts a commit the server asked for against the member’s frames', async () => {
    const harness = createHarness({ limits: { rate: { perSecond: 10, burst: 5, strikes: 100 } } })
    const alice = await join(harness.room, 'alice')
    harness.clock += 1000
    for (let index = 0; index < 6; index += 1) receiveFrame(alice.session, app(4))
    await written()
    const commit = { type: 'commit' as const, epoch: 1, commit: 'AAAA', adds: [], removes: [] }
    // Unasked, a commit past the rate is dropped unheard, as any frame is.
    const saw = alice.connection.frames.length
    receiveFrame(alice.session, commit)
    await written()
    expect(alice.connection.frames.length).toBe(saw)
    // Asked, it reaches the Delivery Service, which answers (here: no group to commit to).
    harness.askToCommit('alice')
    const asked = alice.connection.frames.length
    receiveFrame(alice.session, commit)
    expect(await alice.connection.next('error', asked)).toEqual(error('not_in_group', false))
  })

  test('replays to a connection outside the group only what was logged after it arrived', async () => {
    const harness = createHarness({ group: ['alice'] })
    const alice = await join(harness.room, 'alice')
    receiveFrame(alice.session, app(4))
    receiveFrame(alice.session, app(4))
    await written()
    const carol = await join(harness.room, 'carol')
    receiveFrame(alice.session, app(4))
    await written()
    const saw = carol.connection.frames.length
    receiveFrame(carol.session, { type: 'resume', afterSeq: 0 })
    await carol.connection.next('resumed', saw)
    expect(carol.connection.frames.slice(saw)).toEqual([
      expect.objectContaining({ type: 'app', seq: 3 }),
      { type: 'resumed', head: 3 },
    ])
  })

  test('replays a long log a window at a time, reading on as the socket drains', async () => {
    const harness = createHarness({ limits: { replayWindowBytes: 150 } })
    const alice = await join(harness.room, 'alice')
    for (let index = 0; index < 10; index += 1) receiveFrame(alice.session, app(40))
    await written()
    const bob = await join(harness.room, 'bob')
    bob.connection.buffered = 10_000
    const saw = bob.connection.frames.length
    receiveFrame(bob.session, { type: 'resume', afterSeq: 0 })
    await bob.connection.next('app', saw)
    // A few polls of the socket later, still only the first window (49 bytes an entry).
    await new Promise((resolve) => setTimeout(resolve, 50))
    const firstWindow = bob.connection.frames.length - saw
    expect(firstWindow).toBeGreaterThanOrEqual(1)
    expect(firstWindow).toBeLessThanOrEqual(3)
    bob.connection.buffered = 0
    await bob.connection.next('resumed', saw)
    expect(bob.connection.frames.slice(saw).filter((frame) => frame.type === 'app')).toHaveLength(
      10,
    )
  })
})

describe('the event log and census', () => {
  test('has a join, a refusal with the name claimed, transport and address, and a leave with its reason', async () => {
    const { room, events } = createHarness()
    const alice = await join(room, 'alice')
    const connection = createFakeConnection()
    const session = room.open(connection)
    await hello(connection, session, 'alice', await createIdentityKeyPair(), 'error')
    session.reject('bad_json', 'the frame is not valid JSON')
    receiveFrame(alice.session, { type: 'leave' })
    const from = { transport: 'wss', address: '127.0.0.1' } as const
    expect(events).toEqual([
      { event: 'join', name: 'alice', transport: 'wss' },
      { event: 'refused', code: 'name_taken', fatal: false, name: 'alice', ...from },
      { event: 'refused', code: 'bad_json', fatal: false, ...from },
      { event: 'leave', name: 'alice', transport: 'wss', reason: 'quit' },
    ])
  })

  test('has a message from outside the group as a refusal, without its ciphertext', async () => {
    const { room, events } = createHarness({ group: ['bob'] })
    const alice = await join(room, 'alice')
    receiveFrame(alice.session, { type: 'app', ciphertext: 'Q2lwaGVydGV4dA' })
    await alice.connection.next('error')
    expect(events.at(-1)).toEqual({
      event: 'refused',
      code: 'not_in_group',
      fatal: false,
      name: 'alice',
      transport: 'wss',
      address: '127.0.0.1',
    })
    expect(JSON.stringify(events)).not.toContain('Q2lwaGVydGV4dA')
  })

  test('has a connection replaced by the same key as a leave for "replaced" and a join', async () => {
    const { room, events } = createHarness()
    const alice = await join(room, 'alice')
    await join(room, 'alice', alice.identity)
    expect(events).toEqual([
      { event: 'join', name: 'alice', transport: 'wss' },
      { event: 'leave', name: 'alice', transport: 'wss', reason: 'replaced' },
      { event: 'join', name: 'alice', transport: 'wss' },
    ])
  })

  test('counts open connections by transport, members here and online, and the group', async () => {
    const harness = createHarness({ group: ['alice', 'bob', 'carol'] })
    const { room } = harness
    const alice = await join(room, 'alice')
    await join(room, 'bob')
    const outsider = room.open(createFakeConnection())
    expect(room.census()).toEqual({
      connections: { wss: 3, tls: 0 },
      membersHere: 2,
      membersOnline: 2,
      group: { epoch: 1, size: 3 },
    })
    outsider.closed('disconnect')
    alice.session.closed('disconnect')
    expect(room.census()).toMatchObject({ connections: { wss: 1, tls: 0 }, membersHere: 1 })
  })
})
