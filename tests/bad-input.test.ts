import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createIdentityKeyPair, signWithIdentity } from '../shared/crypto/identity-key.ts'
import { wireOfBody } from '../shared/protocol/binary.ts'
import { decodeServerFrame } from '../shared/protocol/codec.ts'
import { authMessage, type ServerFrame } from '../shared/protocol/frames.ts'
import { createFrameDecoder, encodeLengthPrefixed } from '../shared/protocol/framing.ts'
import {
  connectTls,
  connectWebSocket,
  join,
  startTestServer,
  type TestServer,
} from './support/harness.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

/** A raw TLS link for writing bytes the real client would never write. */
async function connectRawTls(server: TestServer) {
  const frames: ServerFrame[] = []
  const decoder = createFrameDecoder(1 << 24)
  const closed = Promise.withResolvers<void>()
  const handshake = Promise.withResolvers<void>()
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port: server.termPort,
    tls: { ca: server.ca, serverName: 'localhost' },
    socket: {
      handshake: () => handshake.resolve(),
      data(_socket, chunk) {
        for (const body of decoder.push(chunk).frames) {
          const decoded = decodeServerFrame(wireOfBody(body))
          if (decoded.ok) frames.push(decoded.frame)
        }
      },
      close: () => closed.resolve(),
    },
  })
  await handshake.promise
  return { socket, frames, closed: closed.promise }
}

describe('frames that break the rules', () => {
  test('a TLS frame of exactly the limit is read; one byte more is refused and the link closed', async () => {
    await using server = await startTestServer({
      members: ['alice', 'bob'],
      limits: { maxFrameBytes: 4096 },
    })
    await using bob = await connectWebSocket(server)
    await join(bob, 'bob')
    const raw = await connectRawTls(server)
    const hello = '{"type":"ping","nonce":1}'
    const exact = hello.padEnd(4096, ' ')
    raw.socket.write(encodeLengthPrefixed(exact))
    const tooBig = new Uint8Array(4 + 10)
    new DataView(tooBig.buffer).setUint32(0, 4097)
    // A valid frame behind the oversize one must never be parsed.
    raw.socket.write(
      new Uint8Array([...tooBig, ...encodeLengthPrefixed('{"type":"ping","nonce":2}')]),
    )
    await raw.closed
    expect(raw.frames).toEqual([
      { type: 'pong', nonce: 1 },
      {
        type: 'error',
        code: 'frame_too_large',
        message: 'a frame of 4097 bytes exceeds the limit of 4096',
        fatal: true,
      },
    ])
    // Everyone else carries on.
    await using alice = await connectTls(server)
    await join(alice, 'alice')
    alice.send({ type: 'app', ciphertext: 'b2s' })
    expect((await bob.inbox.take('app')).from).toBe('alice')
  })

  test('a length of 0xFFFFFFFF is refused before any body arrives', async () => {
    await using server = await startTestServer()
    const raw = await connectRawTls(server)
    raw.socket.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]))
    await raw.closed
    expect(raw.frames).toEqual([
      expect.objectContaining({ type: 'error', code: 'frame_too_large', fatal: true }),
    ])
  })

  test('a WebSocket message over the limit closes that socket with 1009', async () => {
    await using server = await startTestServer({ limits: { maxFrameBytes: 4096 } })
    const socket = new WebSocket(server.wsUrl, { tls: { ca: server.ca } } as unknown as string[])
    await new Promise((resolve) => socket.addEventListener('open', resolve))
    const closed = new Promise<number>((resolve) =>
      socket.addEventListener('close', (event) => resolve(event.code)),
    )
    socket.send('x'.repeat(4097))
    expect(await closed).toBe(1009)
  })

  for (const transport of ['wss', 'tls'] as const) {
    test(`broken JSON and schema violations over ${transport} get error codes and the link stays`, async () => {
      await using server = await startTestServer()
      await using client =
        transport === 'wss' ? await connectWebSocket(server) : await connectTls(server)
      client.sendRaw('{"type":"ping"')
      client.sendRaw('{"type":"app","ciphertext":42}')
      client.sendRaw('{"type":"launch-missiles"}')
      client.send({ type: 'ping', nonce: 7 })
      expect(await client.inbox.take('error')).toEqual({
        type: 'error',
        code: 'bad_json',
        message: 'the frame is not valid JSON',
        fatal: false,
      })
      expect(await client.inbox.take('error')).toMatchObject({ code: 'bad_frame', fatal: false })
      expect(await client.inbox.take('error')).toMatchObject({ code: 'bad_frame', fatal: false })
      expect(await client.inbox.take('pong')).toEqual({ type: 'pong', nonce: 7 })
      const { ready } = await join(client, 'carol')
      expect(ready.name).toBe('carol')
    })
  }

  test('a member cannot claim another sender or sequence number: the server’s stamp stands', async () => {
    await using server = await startTestServer({ members: ['mallory', 'alice'] })
    await using mallory = await connectTls(server)
    await using alice = await connectWebSocket(server)
    await join(mallory, 'mallory')
    await join(alice, 'alice')
    mallory.sendRaw('{"type":"app","ciphertext":"Zm9v","from":"alice","seq":999,"at":0}')
    const delivered = await alice.inbox.take('app')
    expect(delivered).toMatchObject({ from: 'mallory', seq: 1, ciphertext: 'Zm9v' })
    expect(delivered.at).toBeGreaterThan(0)
  })
})

describe('names that only look like others', () => {
  test('case variants, fullwidth, Cyrillic look-alikes and zero-width characters are refused', async () => {
    await using server = await startTestServer()
    await using alice = await connectTls(server)
    await join(alice, 'alice')
    await using other = await connectWebSocket(server)
    const identity = await createIdentityKeyPair()
    for (const name of ['ａlice', 'аlice', 'al\u200Bice', 'alice\u200D', 'ali\u0301ce']) {
      other.send({ type: 'hello', name, identityKey: identity.publicKeyText })
      expect(await other.inbox.take('error')).toMatchObject({ code: 'name_invalid', fatal: false })
    }
    // A case variant is well-formed, but the name is bound to alice's key.
    other.send({ type: 'hello', name: 'ALICE', identityKey: identity.publicKeyText })
    const { nonce } = await other.inbox.take('challenge')
    other.send({
      type: 'auth',
      signature: await signWithIdentity(identity, authMessage(nonce, 'ALICE')),
    })
    expect(await other.inbox.take('error')).toMatchObject({ code: 'name_taken', fatal: false })
    expect(server.room.members().map((member) => member.name)).toEqual(['alice'])
  })
})

describe('who may open /ws', () => {
  test('a page from a foreign origin gets 403, the server’s own origin gets in', async () => {
    await using server = await startTestServer()
    const upgrade = (origin: string) =>
      fetch(`https://127.0.0.1:${server.webPort}/ws`, {
        headers: {
          Origin: origin,
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
        tls: { ca: server.ca },
      })
    const refused = await upgrade('https://evil.example')
    expect(refused.status).toBe(403)
    expect(refused.headers.get('content-security-policy')).toContain("default-src 'self'")
    expect((await upgrade(`https://localhost:${server.webPort}.evil.example`)).status).toBe(403)
    await using own = await connectWebSocket(server, {
      Origin: `https://localhost:${server.webPort}`,
    })
    const { ready } = await join(own, 'dave')
    expect(ready.name).toBe('dave')
  })
})
