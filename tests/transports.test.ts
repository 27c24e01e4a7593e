import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { connect as connectNodeTls } from 'node:tls'
import { connectTls, connectWebSocket, join, startTestServer } from './support/harness.ts'
import { ciphertextSaying } from './support/wire.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('one room over two transports', () => {
  test('a WebSocket member and a raw-TLS member each receive the other’s app frame', async () => {
    await using server = await startTestServer({ members: ['alice', 'bob'] })
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

describe('fan-out to raw-TLS members', () => {
  // A turn's broadcasts are joined once and the one buffer written to every member whose queue
  // holds exactly them; a member with something of its own in the queue must get its own bytes.
  test('members sharing a burst each get all of it in order, and only their own replies', async () => {
    await using server = await startTestServer({
      members: ['alice', 'bob', 'carol', 'dave'],
      limits: { rate: { perSecond: 10_000, burst: 10_000, strikes: 10_000 } },
    })
    await using alice = await connectWebSocket(server)
    await using bob = await connectTls(server)
    await using carol = await connectTls(server)
    await using dave = await connectTls(server)
    await join(alice, 'alice')
    await join(bob, 'bob')
    await join(carol, 'carol')
    await join(dave, 'dave')
    await alice.inbox.take('presence', (frame) => frame.name === 'dave')

    const count = 300
    for (let index = 0; index < count; index += 1) {
      alice.send({ type: 'app', ciphertext: ciphertextSaying(`m${index}`) })
      // carol's pings are answered in the same turns as alice's messages: her queue differs.
      if (index % 7 === 0) carol.send({ type: 'ping', nonce: index })
    }
    for (const member of [bob, carol, dave]) {
      const received: string[] = []
      for (let index = 0; index < count; index += 1) {
        received.push((await member.inbox.take('app')).ciphertext)
      }
      expect(received).toEqual(
        Array.from({ length: count }, (_, index) => ciphertextSaying(`m${index}`)),
      )
    }
    const pongs: number[] = []
    for (let index = 0; index < count; index += 7) {
      pongs.push((await carol.inbox.take('pong')).nonce ?? -1)
    }
    expect(pongs).toEqual(Array.from({ length: Math.ceil(count / 7) }, (_, index) => index * 7))
    for (const member of [bob, dave]) {
      expect(member.inbox.frames.filter((frame) => frame.type === 'pong')).toEqual([])
    }
  })
})

describe('TLS on both ports', () => {
  test('a TLS 1.2 client is refused on the web port and on the terminal port', async () => {
    await using server = await startTestServer()
    for (const port of [server.webPort, server.termPort]) {
      const outcome = await tlsClientOutcome(port, server.ca, 'TLSv1.2')
      expect(outcome).toMatch(/PROTOCOL_VERSION|protocol version/i)
    }
    // The same client allowed TLS 1.3 gets in, so the refusal is the version and nothing else.
    expect(await tlsClientOutcome(server.termPort, server.ca, 'TLSv1.3')).toBe('TLSv1.3')
  })

  test('plain bytes to either TLS port close that connection and nothing else', async () => {
    await using server = await startTestServer({ members: ['alice', 'bob'] })
    await using alice = await connectTls(server)
    await using bob = await connectWebSocket(server)
    await join(alice, 'alice')
    await join(bob, 'bob')
    for (const port of [server.webPort, server.termPort]) {
      const closed = Promise.withResolvers<void>()
      const socket = await Bun.connect({
        hostname: '127.0.0.1',
        port,
        socket: { data() {}, close: () => closed.resolve(), error: () => closed.resolve() },
      })
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n\x00\xff garbage')
      await closed.promise
    }
    alice.send({ type: 'app', ciphertext: 'c3RpbGwgaGVyZQ' })
    expect((await bob.inbox.take('app')).ciphertext).toBe('c3RpbGwgaGVyZQ')
  })

  test('a client that never finishes its handshake is cut off at the deadline', async () => {
    await using server = await startTestServer({ limits: { handshakeTimeoutSeconds: 1 } })
    const started = performance.now()
    const closed = Promise.withResolvers<void>()
    await Bun.connect({
      hostname: '127.0.0.1',
      port: server.termPort,
      socket: { data() {}, close: () => closed.resolve() },
    })
    await closed.promise
    // Bun's socket timers tick every 4 s, so a 1 s deadline fires within 1–5 s.
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThan(900)
    expect(elapsed).toBeLessThan(6500)
  })
})

/** Connects with node:tls capped at `maxVersion`; the negotiated version or the error's code. */
function tlsClientOutcome(port: number, ca: string, maxVersion: 'TLSv1.2' | 'TLSv1.3') {
  const { promise, resolve } = Promise.withResolvers<string>()
  const socket = connectNodeTls({
    host: '127.0.0.1',
    port,
    ca,
    servername: 'localhost',
    maxVersion,
  })
  socket.on('secureConnect', () => {
    resolve(socket.getProtocol() ?? 'unknown')
    socket.end()
  })
  socket.on('error', (error: NodeJS.ErrnoException) => resolve(`${error.code} ${error.message}`))
  return promise
}
