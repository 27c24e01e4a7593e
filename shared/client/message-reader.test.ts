import { describe, expect, test } from 'bun:test'
import { createMlsMember } from '../../tests/support/mls-member.ts'
import { encodeBase64url } from '../protocol/base64url.ts'
import { EventHub } from './event-hub.ts'
import type { ChatEvent } from './events.ts'
import { readMessage } from './message-reader.ts'
import { type ClientState, encryptMessage } from './mls.ts'
import type { OwnEcho } from './outbox.ts'
import { encodePayload, type Payload } from './payload.ts'

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
    takeOwn: (ciphertext: string) => own.get(ciphertext),
  }
  async function fromAlice(payload: Payload): Promise<string> {
    const encrypted = await encryptMessage(alice.state as ClientState, encodePayload(payload))
    alice.state = encrypted.state
    return encodeBase64url(encrypted.ciphertext)
  }
  return { context, events, own, fromAlice }
}

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

  test('refuses a file whose checksum does not match what it carries', async () => {
    const { context, events, fromAlice } = await bobReading()
    const bytes = new TextEncoder().encode('notes')
    const file = {
      kind: 'file' as const,
      id: 'f',
      name: 'a.txt',
      size: 5,
      sha256: '0'.repeat(64),
      truncated: false,
      bytes,
    }
    await readMessage(frame(7, 'alice', await fromAlice(file)), context)
    expect(events).toEqual([expect.objectContaining({ type: 'warning', code: 'bad_file' })])
  })
})
