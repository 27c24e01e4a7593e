import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startEngineClient } from './support/engine.ts'
import { startTestServer } from './support/harness.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('end-to-end encrypted room', () => {
  test('three members on both transports exchange text and a file with authenticated senders', async () => {
    await using server = await startTestServer()
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await using carol = await startEngineClient(server, 'carol', 'wss')
    await alice.waitFor('membership', (event) => event.members.length === 3)

    await alice.session.sendText('hello from alice')
    await bob.session.sendText('hello from bob')
    const file = new TextEncoder().encode('line one\nline two\n')
    await carol.session.sendFile({ name: 'notes.txt', bytes: file })

    for (const member of [alice, bob, carol]) {
      const fromAlice = await member.waitFor(
        'message',
        (event) => event.text === 'hello from alice',
      )
      expect(fromAlice.from).toBe('alice')
      expect(fromAlice.own).toBe(member === alice)
      expect(
        (await member.waitFor('message', (event) => event.text === 'hello from bob')).from,
      ).toBe('bob')
      const received = await member.waitFor('file')
      expect(received).toMatchObject({ from: 'carol', name: 'notes.txt', size: file.length })
      expect(received.bytes).toEqual(file)
    }
    const codes = await Promise.all([alice, bob, carol].map((member) => member.session.roomCode()))
    expect(new Set(codes).size).toBe(1)
    for (const member of [alice, bob, carol]) {
      expect(
        member.events.filter(
          (event) => event.type === 'warning' && event.code !== 'history_unreadable',
        ),
      ).toEqual([])
    }
  })
})
