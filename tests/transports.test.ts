import { describe, expect, test } from 'bun:test'
import { connectTls, connectWebSocket, join, startTestServer } from './support/harness.ts'

describe('one room over two transports', () => {
  test('a WebSocket member and a raw-TLS member each receive the other’s app frame', async () => {
    await using server = await startTestServer()
    await using web = await connectWebSocket(server)
    await using term = await connectTls(server)
    const { ready: webReady } = await join(web, 'alice')
    expect(webReady.members.map((member) => member.name)).toEqual(['alice'])
    const { ready: termReady } = await join(term, 'bob')
    expect(termReady.members.map((member) => member.name).sort()).toEqual(['alice', 'bob'])
    await web.inbox.take('presence', (frame) => frame.event === 'join' && frame.name === 'bob')

    web.send({ type: 'app', ciphertext: 'AAAA' })
    term.send({ type: 'app', ciphertext: 'BBBB' })
    const fromAlice = await term.inbox.take('app', (frame) => frame.from === 'alice')
    const fromBob = await web.inbox.take('app', (frame) => frame.from === 'bob')
    expect(fromAlice).toEqual({
      type: 'app',
      from: 'alice',
      seq: expect.any(Number),
      at: expect.any(Number),
      ciphertext: 'AAAA',
    })
    expect(fromBob.ciphertext).toBe('BBBB')
    expect(new Set([fromAlice.seq, fromBob.seq])).toEqual(new Set([1, 2]))
  })
})
