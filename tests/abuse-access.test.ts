// Outsiders at the door, over real TLS from one address: guessing the room secret, holding
// sockets open without ever joining, and opening more connections than a team needs.
import { afterEach, describe, expect, setDefaultTimeout, spyOn, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import type { Socket } from 'bun'
import { createIdentityKeyPair } from '../shared/crypto/identity-key.ts'
import { SocketWriter } from '../shared/net/socket-writer.ts'
import { type ErrorFrame, errorFrame } from '../shared/protocol/frames.ts'
import {
  connectTls,
  connectWebSocket,
  join,
  startTestServer,
  type TestClient,
  type TestServer,
} from './support/harness.ts'
import { connectRawWebSocket } from './support/raw-websocket.ts'

// Real servers on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const SECRET = 'correct horse battery staple'

/** The server's log (console.log) as a test reads it; restored after each test. */
let logSpy: ReturnType<typeof spyOn> | undefined
afterEach(() => {
  logSpy?.mockRestore()
  logSpy = undefined
})

/** One hello with `secret` on a fresh TLS connection: the error the server answers with. */
async function tryTheSecret(server: TestServer, secret: string, identityKey: string) {
  await using client = await connectTls(server)
  client.send({ type: 'hello', name: 'guesser', identityKey, secret })
  return client.inbox.take('error')
}

describe('guessing the room secret', () => {
  test('one address gets 5 guesses checked, then every hello is refused unchecked and the lockout logged', async () => {
    await using server = await startTestServer({ roomSecret: SECRET })
    const logged: string[] = []
    logSpy = spyOn(console, 'log').mockImplementation((line: unknown) => {
      logged.push(String(line))
    })
    const { publicKeyText } = await createIdentityKeyPair()
    const answers: ErrorFrame[] = []
    const started = performance.now()
    // As fast as four connections at a time allow, for 1.5 s.
    const worker = async () => {
      while (performance.now() - started < 1500) {
        answers.push(await tryTheSecret(server, `guess ${answers.length}`, publicKeyText))
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    const seconds = (performance.now() - started) / 1000
    const checked = answers.filter((answer) => answer.code === 'bad_secret').length
    console.info(
      `secret guesses from one address: ${answers.length} tried, ${checked} checked in ` +
        `${seconds.toFixed(2)} s = ${(checked / seconds).toFixed(1)} checked guesses/s`,
    )
    // 5 free tries, then 1 s: a sixth may be checked once that second is over, not a seventh.
    expect(checked).toBeGreaterThanOrEqual(5)
    expect(checked).toBeLessThanOrEqual(6)
    const refused = answers.filter((answer) => answer.code === 'rate_limited')
    expect(refused.length).toBe(answers.length - checked)
    expect(refused[0]?.message).toMatch(
      /^too many wrong room secrets from your address; try again in \d+ s$/,
    )
    const lockouts = logged.filter((line) => line.includes(' secret_lockout '))
    expect(lockouts[0]).toEndWith(
      ' secret_lockout address=127.0.0.1 misses=5 lockoutSeconds=1 refusedMeanwhile=0 unlogged=0',
    )
    // A line per lockout, none per guess: the log cannot be flooded through it.
    expect(lockouts.length).toBeLessThanOrEqual(2)
  })

  test('while an address is locked out even the right secret from it is refused, unchecked', async () => {
    const secretGuesses = { freeTries: 5, firstLockoutMs: 300_000, maxLockoutMs: 900_000 }
    await using server = await startTestServer({ roomSecret: SECRET, limits: { secretGuesses } })
    const { publicKeyText } = await createIdentityKeyPair()
    for (let guess = 1; guess <= 5; guess += 1) {
      const answer = await tryTheSecret(server, `guess ${guess}`, publicKeyText)
      expect(answer.code).toBe('bad_secret')
    }
    expect(await tryTheSecret(server, SECRET, publicKeyText)).toEqual(
      errorFrame(
        'rate_limited',
        'too many wrong room secrets from your address; try again in 5 min',
        true,
      ),
    )
  })
})

/**
 * Whether some process still holds the server's side of the TCP link between these two ports on
 * 127.0.0.1: the kernel's socket table names the owner's inode, or 0 once the owner closed it.
 */
function serverHolds(serverPort: number, peerPort: number): boolean {
  const at = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/)
      return fields[1] === at(serverPort) && fields[2] === at(peerPort) && fields[9] !== '0'
    })
}

/**
 * A plain TCP hop in front of a port that tells when the server let go of the one link through
 * it. Its FIN or reset says when to start looking; the kernel's table says when it closed the
 * socket, which sends nothing once the FIN is out (Bun's WebSocket server closes a turn after its
 * FIN; a server that only shut down its side keeps the socket).
 */
function startReleaseWatch(targetPort: number) {
  const released = Promise.withResolvers<number>()
  const links: Array<{ terminate(): void }> = []
  let stopped = false
  const listener = Bun.listen<{ toServer: SocketWriter; toClient: SocketWriter }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(client) {
        let upstream: Socket | undefined
        client.data = {
          toServer: new SocketWriter({ write: (bytes) => upstream?.write(bytes) ?? 0 }),
          toClient: new SocketWriter(client),
        }
        links.push(client)
        let looking = false
        const look = () => {
          const socket = upstream
          if (looking || !socket) return
          looking = true
          const again = () => {
            if (stopped) return
            if (!serverHolds(targetPort, socket.localPort)) released.resolve(performance.now())
            else setTimeout(again, 10)
          }
          again()
        }
        void Bun.connect({
          hostname: '127.0.0.1',
          port: targetPort,
          // Half-open: the hop never closes towards the server, as the client it stands for.
          allowHalfOpen: true,
          socket: {
            open(socket) {
              upstream = socket
              links.push(socket)
              client.data.toServer.drain()
            },
            data: (_socket, chunk) => client.data.toClient.write(new Uint8Array(chunk)),
            drain: () => client.data.toServer.drain(),
            end: look,
            close: look,
            error() {},
          },
        })
      },
      data: (client, chunk) => client.data.toServer.write(new Uint8Array(chunk)),
      drain: (client) => client.data.toClient.drain(),
      error() {},
    },
  })
  return {
    port: listener.port,
    released: released.promise,
    [Symbol.dispose]() {
      stopped = true
      for (const link of links) link.terminate()
      listener.stop(true)
    },
  }
}

describe('sockets that never join', () => {
  const AUTH_MS = 300

  test('a raw TLS socket that sends nothing and never closes is let go within a second of the auth deadline', async () => {
    await using server = await startTestServer({ limits: { authTimeoutMs: AUTH_MS } })
    using watch = startReleaseWatch(server.termPort)
    const told = Promise.withResolvers<void>()
    const opened = performance.now()
    // Half-open, with an `end` handler (without one Bun closes anyway): like an attacker, this
    // peer never answers the server's close with its own.
    const socket = await Bun.connect({
      hostname: '127.0.0.1',
      port: watch.port,
      allowHalfOpen: true,
      tls: { ca: server.ca, serverName: 'localhost' },
      socket: { data: () => told.resolve(), end() {}, error() {} },
    })
    await told.promise
    const held = ((await watch.released) - opened) / 1000
    socket.terminate()
    console.info(`pre-auth raw TLS socket held ${held.toFixed(2)} s (auth deadline ${AUTH_MS} ms)`)
    expect(held).toBeGreaterThanOrEqual(AUTH_MS / 1000)
    expect(held).toBeLessThan(AUTH_MS / 1000 + 1.5)
  })

  test('a WebSocket that never answers the close is let go at the auth deadline', async () => {
    await using server = await startTestServer({ limits: { authTimeoutMs: AUTH_MS } })
    using watch = startReleaseWatch(server.webPort)
    const opened = performance.now()
    await using socket = await connectRawWebSocket({
      port: watch.port,
      ca: server.ca,
      answerPings: false,
    })
    expect(JSON.parse(await socket.nextText())).toMatchObject({ code: 'auth_timeout' })
    const held = ((await watch.released) - opened) / 1000
    console.info(`pre-auth WebSocket held ${held.toFixed(2)} s (auth deadline ${AUTH_MS} ms)`)
    expect(held).toBeLessThan(AUTH_MS / 1000 + 1.5)
  })
})

describe('connections per address', () => {
  const CAP = 4
  const TOO_MANY = errorFrame(
    'rate_limited',
    `too many connections from your address (${CAP} open); close one and try again`,
    true,
  )

  /** The refusal a connection over the cap gets, and that it is closed right after. */
  async function refusal(client: TestClient) {
    const frame = await client.inbox.take('error')
    await client.closed
    return frame
  }

  test('past the cap, counted over both ports, a connection is told so and closed; a slot that frees is taken again', async () => {
    await using server = await startTestServer({ limits: { maxConnectionsPerAddress: CAP } })
    await using alice = await connectTls(server)
    await using bob = await connectWebSocket(server)
    await using carol = await connectTls(server)
    await using dave = await connectWebSocket(server)
    await join(alice, 'alice')
    await join(bob, 'bob')
    await join(carol, 'carol')
    await join(dave, 'dave')

    await using overTls = await connectTls(server)
    expect(await refusal(overTls)).toEqual(TOO_MANY)
    await using overWeb = await connectWebSocket(server)
    expect(await refusal(overWeb)).toEqual(TOO_MANY)

    alice.close()
    await bob.inbox.take('presence', (frame) => frame.event === 'leave' && frame.name === 'alice')
    await using erin = await connectTls(server)
    expect((await join(erin, 'erin')).ready.name).toBe('erin')
  })
})
