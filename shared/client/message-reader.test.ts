import { describe, expect, test } from 'bun:test'
import { createMlsMember } from '../../tests/support/mls-member.ts'
import { encodeBase64url } from '../protocol/base64url.ts'
import { EventHub } from './event-hub.ts'
import type { ChatEvent } from './events.ts'
import { readMessage } from './message-reader.ts'
import { type ClientState, encryptMessage } from './mls.ts'
import type { OwnEcho } from './outbox.ts'
import { encodePayload, type Payload } from './payload.ts'
import { createSeenCiphertexts } from './seen-ciphertexts.ts'

/** A file whose checksum does not match what it carries. */
const FILE_WITH_A_WRONG_CHECKSUM = {
  kind: 'file' as const,
  id: 'f',
  name: 'a.txt',
  size: 5,
  sha256: '0'.repeat(64),
  truncated: false,
  bytes: new TextEncoder().encode('notes'),
}

/** bob in a group with alice, reading what alice (or the test, as alice) sends. */
async function bobReading() {
  const alice = await createMlsMember('alice')
  const bob = await createMlsMember('bob')
  await alice.found()
  const added = await alice.commit({ add: [await bob.keyPackage()] })
  added.merge()
  await bob.join(added.welcome as string)
  const hub = new EventHub()
  const events: ChatEvent[] = []
  hub.on((event) => events.push(event))
  const own = new Map<string, OwnEcho>()
  const context = {
    name: 'bob',
    hub,
    maxFileBytes: () => 1024,
    group: () => bob.state,
    replaceGroup: (state: ClientState) => {
      bob.state = state
    },
    // As the outbox does: each ciphertext it made is taken back once.
    takeOwn: (ciphertext: string) => {
      const echo = own.get(ciphertext)
      own.delete(ciphertext)
      return echo
    },
    seen: createSeenCiphertexts(),
  }
  async function fromAlice(payload: Payload): Promise<string> {
    const encrypted = await encryptMessage(alice.state as ClientState, encodePayload(payload))
    alice.state = encrypted.state
    return encodeBase64url(encrypted.ciphertext)
  }
  /** What bob's outbox would send: encrypted in his own group state, and waiting to be seen. */
  async function fromBob(payload: Extract<Payload, { kind: 'text' }>): Promise<string> {
    const encrypted = await encryptMessage(bob.state as ClientState, encodePayload(payload))
    bob.state = encrypted.state
    const ciphertext = encodeBase64url(encrypted.ciphertext)
    const sent = {
      type: 'delivery',
      id: payload.id,
      state: 'sent',
      at: 6,
      content: { kind: 'text', text: payload.text },
    } as const
    own.set(ciphertext, { kind: 'first', payload, sent })
    return ciphertext
  }
  return { context, events, own, fromAlice, fromBob }
}

const warnings = (events: ChatEvent[]) =>
  events.filter((event) => event.type === 'warning').map((event) => event.code)

const frame = (seq: number, from: string, ciphertext: string) =>
  ({ type: 'app', seq, from, at: 7, ciphertext }) as const

describe('readMessage', () => {
  test('shows a message with the sender MLS authenticated, and the server’s other claim beside it', async () => {
    const { context, events, fromAlice } = await bobReading()
    await readMessage(
      frame(3, 'alice', await fromAlice({ kind: 'text', id: 'm1', text: 'hi' })),
      context,
    )
    await readMessage(
      frame(4, 'mallory', await fromAlice({ kind: 'text', id: 'm2', text: 'yo' })),
      context,
    )
    expect(events.filter((event) => event.type === 'message')).toEqual([
      {
        type: 'message',
        id: 'm1',
        text: 'hi',
        seq: 3,
        at: 7,
        from: 'alice',
        own: false,
        claimedBy: undefined,
      },
      {
        type: 'message',
        id: 'm2',
        text: 'yo',
        seq: 4,
        at: 7,
        from: 'alice',
        own: false,
        claimedBy: 'mallory',
      },
    ])
    expect(events.filter((event) => event.type === 'warning').map((event) => event.code)).toEqual([
      'sender_mismatch',
    ])
  })

  test('takes our own message back as its acknowledgement, and reports what it cannot read', async () => {
    const { context, events, own } = await bobReading()
    const sent = {
      type: 'delivery',
      id: 'mine',
      state: 'sent',
      at: 6,
      content: { kind: 'text', text: 'sent by bob' },
    } as const
    own.set('OWN', {
      kind: 'first',
      payload: { kind: 'text', id: 'mine', text: 'sent by bob' },
      sent,
    })
    await readMessage(frame(5, 'bob', 'OWN'), context)
    await readMessage(frame(6, 'alice', 'AAAA'), context)
    expect(events).toEqual([
      { type: 'message', id: 'mine', text: 'sent by bob', seq: 5, at: 7, from: 'bob', own: true },
      sent,
      expect.objectContaining({ type: 'warning', code: 'undecryptable' }),
    ])
  })

  test('passes over a second copy of our own retried message without trying to read it', async () => {
    const { context, events, own } = await bobReading()
    own.set('COPY', { kind: 'again' })
    await readMessage(frame(8, 'bob', 'COPY'), context)
    expect(events).toEqual([])
  })

  test('shows what another device of this person sent as its own, marked as from another device', async () => {
    const { context, events, fromAlice } = await bobReading()
    // The reader is one of alice's devices: a leaf under her name that is not its own.
    const atAlicesOtherDevice = { ...context, name: 'alice' }
    const bytes = new TextEncoder().encode('notes')
    const sha256 = new Bun.CryptoHasher('sha256').update(bytes).digest('hex')
    const file = {
      kind: 'file' as const,
      id: 'f1',
      name: 'a.txt',
      size: 5,
      sha256,
      truncated: false,
      bytes,
    }
    await readMessage(frame(3, 'alice', await fromAlice(file)), atAlicesOtherDevice)
    expect(events.filter((event) => event.type === 'file')).toMatchObject([
      { from: 'alice', own: true, otherDevice: true },
    ])
  })

  test('refuses a file whose checksum does not match what it carries', async () => {
    const { context, events, fromAlice } = await bobReading()
    await readMessage(frame(7, 'alice', await fromAlice(FILE_WITH_A_WRONG_CHECKSUM)), context)
    expect(events).toEqual([expect.objectContaining({ type: 'warning', code: 'bad_file' })])
  })

  test('drops quietly a second copy of a ciphertext it already read', async () => {
    const { context, events, fromAlice } = await bobReading()
    const ciphertext = await fromAlice({ kind: 'text', id: 'm1', text: 'once' })
    await readMessage(frame(51, 'alice', ciphertext), context)
    await readMessage(frame(52, 'alice', ciphertext), context)
    expect(events).toEqual([
      expect.objectContaining({ type: 'message', id: 'm1', seq: 51, own: false }),
    ])
  })

  test('drops quietly a second copy of our own message once its first copy was taken back', async () => {
    const { context, events, fromBob } = await bobReading()
    const ciphertext = await fromBob({ kind: 'text', id: 'mine', text: 'once' })
    await readMessage(frame(51, 'bob', ciphertext), context)
    await readMessage(frame(52, 'bob', ciphertext), context)
    expect(events).toEqual([
      expect.objectContaining({ type: 'message', id: 'mine', seq: 51, own: true }),
      expect.objectContaining({ type: 'delivery', id: 'mine', state: 'sent' }),
    ])
  })

  test('warns once of a message refused after it was decrypted, not again of its copy', async () => {
    const { context, events, fromAlice } = await bobReading()
    const ciphertext = await fromAlice(FILE_WITH_A_WRONG_CHECKSUM)
    await readMessage(frame(7, 'alice', ciphertext), context)
    await readMessage(frame(8, 'alice', ciphertext), context)
    expect(warnings(events)).toEqual(['bad_file'])
  })

  test('still warns of a different ciphertext it cannot read, after reading a good one', async () => {
    const { context, events, fromAlice } = await bobReading()
    const ciphertext = await fromAlice({ kind: 'text', id: 'm1', text: 'good' })
    await readMessage(frame(1, 'alice', ciphertext), context)
    await readMessage(frame(2, 'alice', ciphertext), context)
    await readMessage(frame(3, 'alice', `${ciphertext.slice(0, -8)}AAAAAAAA`), context)
    expect(events.filter((event) => event.type === 'message')).toHaveLength(1)
    expect(warnings(events)).toEqual(['undecryptable'])
  })

  test('warns of every copy of a ciphertext it could not read: a failure is not remembered', async () => {
    const { context, events } = await bobReading()
    await readMessage(frame(1, 'alice', 'AAAA'), context)
    await readMessage(frame(2, 'alice', 'AAAA'), context)
    expect(warnings(events)).toEqual(['undecryptable', 'undecryptable'])
  })
})
