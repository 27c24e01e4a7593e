// Adversarial transport cases over real TLS on loopback: WebSocket compression and UTF-8, a
// flooding member, silent and half-open peers, unfinished handshakes by the thousand, a full room.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { deflateRawSync } from 'node:zlib'
import type { ConnectTransport } from '../shared/client/transport.ts'
import type { PresenceFrame, ServerFrame } from '../shared/protocol/frames.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { transportFor } from './support/engine.ts'
import {
  connectClient,
  connectTls,
  connectWebSocket,
  join,
  startTestServer,
  type TestClient,
  testCertificates,
} from './support/harness.ts'
import { connectRawTls } from './support/raw-tls.ts'
import { connectRawWebSocketMember, OPCODE } from './support/raw-websocket.ts'
import { ciphertextSaying, saidBy } from './support/wire.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const FIXTURES = joinPath(import.meta.dir, 'fixtures')
/** Bun's socket timers (Bun.listen's `timeout`, Bun.serve's idle timers) tick every 4 s. */
const TIMER_TICK_MS = 4000
/** Bun.serve closes an HTTP connection idle this long, a TLS handshake included (its default). */
const WEB_IDLE_TIMEOUT_MS = 10_000

type AppFrame = Extract<ServerFrame, { type: 'app' }>

/** Calls `onApp` with the time each app frame arrived, before the inbox sees it. */
function timed(connect: ConnectTransport, onApp: (frame: AppFrame, at: number) => void) {
  const wrapped: ConnectTransport = (events) =>
    connect({
      ...events,
      frame(frame) {
        if (frame.type === 'app') onApp(frame, performance.now())
        events.frame(frame)
      },
    })
  return wrapped
}

/** Reads a child's stdout as JSON lines. */
async function* jsonLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline >= 0) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line.startsWith('{')) yield JSON.parse(line)
      newline = buffered.indexOf('\n')
    }
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0)
}

function openFileDescriptors(): number {
  return readdirSync('/proc/self/fd').length
}

/** The leave presence frame for `name`, as `watcher` sees it. */
function leaveOf(watcher: TestClient, name: string, timeoutMs = 20_000) {
  return watcher.inbox.take(
    'presence',
    (frame) => frame.event === 'leave' && frame.name === name,
    timeoutMs,
  ) as Promise<Extract<PresenceFrame, { event: 'leave' }>>
}

describe('WebSocket frames the server must not trust', () => {
  test('a client offering permessage-deflate gets no compression, and a compressed bomb closes it with 1002 unread', async () => {
    await using server = await startTestServer()
    await using watcher = await connectWebSocket(server)
    await join(watcher, 'watcher')
    const { socket, client } = await connectRawWebSocketMember({
      port: server.webPort,
      ca: server.ca,
      headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' },
    })
    expect(socket.upgrade.status).toBe(101)
    // No extension agreed: every message must arrive uncompressed, so none is ever inflated.
    expect(socket.upgrade.headers.has('sec-websocket-extensions')).toBe(false)
    await join(client, 'bomber')

    // 64 MiB of zeros deflate to 64 KB: well within the frame limit as sent, so only refusing
    // compression outright keeps the server from inflating it.
    const bomb = deflateRawSync(new Uint8Array(64 * 2 ** 20))
    expect(bomb.length).toBeLessThan(createLimits().maxFrameBytes)
    const rssBefore = process.memoryUsage().rss
    socket.sendFrame({ opcode: OPCODE.text, rsv1: true, payload: bomb })
    expect(await socket.closed).toEqual({ code: 1002, reason: 'Received unexpected RSV1 bit' })
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(32 * 2 ** 20)
    expect(await leaveOf(watcher, 'bomber')).toMatchObject({ reason: 'dropped' })
  }, 15_000)

  test('a WebSocket text message that is not UTF-8 closes that socket with 1007 and the others see it dropped', async () => {
    await using server = await startTestServer()
    await using watcher = await connectWebSocket(server)
    await join(watcher, 'watcher')
    const { socket, client } = await connectRawWebSocketMember({
      port: server.webPort,
      ca: server.ca,
    })
    await join(client, 'mangler')

    // A character split across two fragments is still valid UTF-8: the message is whole.
    const valid = new TextEncoder().encode('{"type":"ping","nonce":7,"pad":"é"}')
    const split = valid.indexOf(0xc3) + 1
    socket.sendFrame({ opcode: OPCODE.text, fin: false, payload: valid.subarray(0, split) })
    socket.sendFrame({ opcode: OPCODE.continuation, payload: valid.subarray(split) })
    expect(await client.inbox.take('pong')).toEqual({ type: 'pong', nonce: 7 })

    const invalid = new TextEncoder().encode('{"type":"ping","nonce":8,"pad":"?"}')
    invalid[invalid.indexOf(0x3f)] = 0xff
    socket.sendText(invalid)
    expect(await socket.closed).toEqual({ code: 1007, reason: 'Received invalid UTF-8' })
    expect(await leaveOf(watcher, 'mangler')).toMatchObject({ reason: 'dropped' })
    expect(client.inbox.frames.filter((frame) => frame.type === 'pong')).toEqual([])
  }, 15_000)
})

describe('a member that floods', () => {
  test('a client flooding 10,000 frames a second is rate-limited and closed on every connection while the others lose nothing and stay under 50 ms at p99', async () => {
    await using server = await startTestServer({
      members: ['chatter0', 'chatter1', 'chatter2', 'chatter3', 'flooder'],
    })
    const certs = await testCertificates()
    const CHATTERS = 4
    const PER_SECOND = 20
    const SECONDS = 2
    const perChatter = PER_SECOND * SECONDS

    interface Chatter {
      readonly name: string
      readonly client: TestClient
      /** Chatters' messages received, by sender, in arrival order: [n, seq]. */
      readonly received: Map<string, Array<[number, number]>>
      /** Milliseconds from send to arrival, for messages of the other chatters. */
      readonly latencies: number[]
      /** Everyone's messages received, own copies included. */
      total: number
      /** The flooder's messages that got through its rate limit to this chatter. */
      flooded: number
      readonly done: PromiseWithResolvers<void>
    }
    async function startChatter(index: number): Promise<Chatter> {
      const name = `chatter${index}`
      const state = {
        received: new Map<string, Array<[number, number]>>(),
        latencies: [] as number[],
        total: 0,
        flooded: 0,
        done: Promise.withResolvers<void>(),
      }
      const onApp = (frame: AppFrame, at: number) => {
        if (frame.from === 'flooder') {
          state.flooded += 1
          return
        }
        const [, n, sentAt] = saidBy(frame.ciphertext).split('_').map(Number)
        if (frame.from !== name) state.latencies.push(at - (sentAt as number) / 1000)
        const list = state.received.get(frame.from) ?? []
        list.push([n as number, frame.seq])
        state.received.set(frame.from, list)
        state.total += 1
        if (state.total === CHATTERS * perChatter) state.done.resolve()
      }
      const kind = index % 2 === 0 ? 'tls' : 'wss'
      const client = await connectClient(timed(transportFor(server, kind), onApp))
      await join(client, name)
      return Object.assign(state, { name, client })
    }
    const chatters: Chatter[] = []
    for (let index = 0; index < CHATTERS; index += 1) chatters.push(await startChatter(index))
    const watcher = chatters[0] as Chatter

    const flooder = Bun.spawn(
      [
        'bun',
        joinPath(FIXTURES, 'flood-fixture.ts'),
        String(server.termPort),
        joinPath(certs.dir, 'ca.pem'),
        'flooder',
        String(SECONDS + 1),
        '10000',
      ],
      { stdout: 'pipe', stderr: 'inherit' },
    )
    const reports = (async () => {
      const lines: Array<{ sent: number; errors: Array<{ code: string; fatal: boolean }> }> = []
      for await (const line of jsonLines(flooder.stdout)) {
        if ((line as { done?: boolean }).done) break
        lines.push(line as (typeof lines)[number])
      }
      return lines
    })()
    try {
      await watcher.client.inbox.take('presence', (frame) => frame.name === 'flooder', 10_000)
      const rssBefore = process.memoryUsage().rss
      // Each chatter sends at its own steady pace, its send time in the payload.
      await Promise.all(
        chatters.map(
          (chatter, index) =>
            new Promise<void>((resolve) => {
              let n = 0
              const timer = setInterval(() => {
                const micros = Math.round(performance.now() * 1000)
                chatter.client.send({
                  type: 'app',
                  ciphertext: ciphertextSaying(`m${index}_${n}_${micros}`),
                })
                n += 1
                if (n === perChatter) {
                  clearInterval(timer)
                  resolve()
                }
              }, 1000 / PER_SECOND)
            }),
        ),
      )
      await Promise.all(chatters.map((chatter) => chatter.done.promise))
      const connections = await reports
      const rssAfter = process.memoryUsage().rss

      // Every flooding connection was warned, then closed for rate, and nothing else.
      expect(connections.length).toBeGreaterThan(0)
      for (const connection of connections) {
        expect(connection.errors).toEqual([
          { code: 'rate_limited', fatal: false },
          { code: 'rate_limited', fatal: true },
        ])
      }
      // Every chatter got every chatter's messages, in order, with no gap and no duplicate.
      for (const chatter of chatters) {
        for (const sender of chatters) {
          const got = chatter.received.get(sender.name) ?? []
          expect(got.map(([n]) => n)).toEqual(Array.from({ length: perChatter }, (_, n) => n))
          const seqs = got.map(([, seq]) => seq)
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
        }
      }
      // What got through is the per-connection allowance: a burst each, then the steady rate.
      const { rate } = createLimits()
      expect(watcher.flooded).toBeLessThanOrEqual(
        connections.length * rate.burst + rate.perSecond * (SECONDS + 1),
      )
      const latencies = chatters.flatMap((chatter) => chatter.latencies)
      const p50 = percentile(latencies, 50)
      const p99 = percentile(latencies, 99)
      const written = connections.reduce((sum, connection) => sum + connection.sent, 0)
      console.log(
        `flood: ${connections.length} flooding connections wrote ${written} frames, ` +
          `${watcher.flooded} got through; chatters p50 ${p50.toFixed(2)} ms, ` +
          `p99 ${p99.toFixed(2)} ms, max ${Math.max(...latencies).toFixed(2)} ms over ` +
          `${latencies.length} deliveries; rss ${mib(rssBefore)} → ${mib(rssAfter)} MiB`,
      )
      expect(p99).toBeLessThan(50)
    } finally {
      flooder.kill('SIGKILL')
      for (const chatter of chatters) chatter.client.close()
    }
  }, 30_000)
})

describe('silent and half-open peers', () => {
  // More than one of Bun's 4 s ticks: a timeout of one tick fires at the next tick however busy
  // the link is, so only a longer one shows that talking keeps a member in.
  const IDLE_SECONDS = 8

  /** Bun fires a socket timeout on a tick: up to one tick early, or late. */
  function expectIdleClose(ms: number): void {
    expect(ms).toBeGreaterThan(IDLE_SECONDS * 1000 - TIMER_TICK_MS - 100)
    expect(ms).toBeLessThan(IDLE_SECONDS * 1000 + TIMER_TICK_MS + 1000)
  }

  test('silent members are closed at the idle timeout on both ports and leave with reason timeout, while members that ping or answer pings stay', async () => {
    await using server = await startTestServer({
      members: ['watcher', 'pinger', 'quiet-tls', 'quiet-ws'],
      limits: { idleTimeoutSeconds: IDLE_SECONDS },
    })
    // Bun's WebSocket client answers the server's pings by itself and sends nothing else.
    await using watcher = await connectWebSocket(server)
    await join(watcher, 'watcher')
    await using pinger = await connectTls(server)
    await join(pinger, 'pinger')
    const pingerJoinedAt = performance.now()
    const pings = setInterval(() => pinger.send({ type: 'ping' }), 1000)
    try {
      await using quietTls = await connectTls(server)
      await join(quietTls, 'quiet-tls')
      const tlsSilentFrom = performance.now()
      const quietWs = await connectRawWebSocketMember({
        port: server.webPort,
        ca: server.ca,
        answerPings: false,
      })
      await using _ = quietWs.client
      await join(quietWs.client, 'quiet-ws')
      const wsSilentFrom = performance.now()

      const [tlsLeave, wsLeave] = await Promise.all([
        leaveOf(watcher, 'quiet-tls').then((frame) => ({
          frame,
          ms: performance.now() - tlsSilentFrom,
        })),
        leaveOf(watcher, 'quiet-ws').then((frame) => ({
          frame,
          ms: performance.now() - wsSilentFrom,
        })),
      ])
      expect(tlsLeave.frame.reason).toBe('timeout')
      expect(wsLeave.frame.reason).toBe('timeout')
      expectIdleClose(tlsLeave.ms)
      expectIdleClose(wsLeave.ms)
      // The WebSocket was asked before it was closed.
      expect(quietWs.socket.frames.some((frame) => frame.opcode === OPCODE.ping)).toBe(true)
      expect(await quietTls.closed).toBe('connection closed')
      console.log(
        `idle ${IDLE_SECONDS} s: silent TLS member left after ${tlsLeave.ms.toFixed(0)} ms, ` +
          `silent WebSocket member after ${wsLeave.ms.toFixed(0)} ms`,
      )

      // Watch the talking members past the latest an idle deadline could fire: deliberately time,
      // since what is checked is that nothing happens.
      const latestDeadline = pingerJoinedAt + IDLE_SECONDS * 1000 + TIMER_TICK_MS + 500
      await Bun.sleep(Math.max(0, latestDeadline - performance.now()))
      const leaves = watcher.inbox.frames.filter(
        (frame) => frame.type === 'presence' && frame.event === 'leave',
      )
      expect(leaves).toEqual([])
      pinger.send({ type: 'app', ciphertext: 'c3RpbGwgaGVyZQ' })
      expect((await watcher.inbox.take('app')).from).toBe('pinger')
      expect(server.room.members().map((member) => member.name)).toEqual(['watcher', 'pinger'])
    } finally {
      clearInterval(pings)
    }
  }, 40_000)

  test('a member whose process freezes is closed at the idle timeout on both ports', async () => {
    await using server = await startTestServer({ limits: { idleTimeoutSeconds: IDLE_SECONDS } })
    await using watcher = await connectWebSocket(server)
    await join(watcher, 'watcher')
    const certs = await testCertificates()
    // Each fixture pings every second (and Bun's WebSocket client answers pings) until it stops.
    const members = (['tls', 'wss'] as const).map((transport) => {
      const port = transport === 'wss' ? server.webPort : server.termPort
      const name = `frozen-${transport}`
      const child = Bun.spawn(
        [
          'bun',
          joinPath(FIXTURES, 'member-fixture.ts'),
          transport,
          String(port),
          joinPath(certs.dir, 'ca.pem'),
          name,
        ],
        { stdout: 'pipe', stderr: 'inherit' },
      )
      return { name, child }
    })
    try {
      await Promise.all(
        members.map(async ({ name, child }) => {
          for await (const chunk of child.stdout) {
            if (new TextDecoder().decode(chunk).includes('ready')) break
          }
          await watcher.inbox.take(
            'presence',
            (frame) => frame.event === 'join' && frame.name === name,
          )
        }),
      )
      // The kernel still holds both links open and acknowledges what the server sends; only the
      // process above it has stopped, as with a suspended laptop or a hung client.
      for (const { child } of members) child.kill('SIGSTOP')
      const frozenAt = performance.now()
      const leaves = await Promise.all(
        members.map(({ name }) =>
          leaveOf(watcher, name).then((frame) => ({ frame, ms: performance.now() - frozenAt })),
        ),
      )
      for (const leave of leaves) {
        expect(leave.frame.reason).toBe('timeout')
        // A second of pings may have gone out after the last one before the freeze.
        expectIdleClose(leave.ms + 1000)
      }
      expect(server.room.members().map((member) => member.name)).toEqual(['watcher'])
    } finally {
      for (const { child } of members) child.kill('SIGKILL')
    }
  }, 30_000)

  test('a member that half-closes its side is closed at once on both ports and leaves with reason disconnect', async () => {
    await using server = await startTestServer()
    await using watcher = await connectWebSocket(server)
    await join(watcher, 'watcher')
    await using tls = await connectRawTls({ port: server.termPort, ca: server.ca })
    await join(tls, 'half-tls')
    const ws = await connectRawWebSocketMember({ port: server.webPort, ca: server.ca })
    await using _ = ws.client
    await join(ws.client, 'half-ws')

    tls.socket.shutdown()
    ws.socket.halfClose()
    expect(await leaveOf(watcher, 'half-tls', 2000)).toMatchObject({ reason: 'disconnect' })
    expect(await leaveOf(watcher, 'half-ws', 2000)).toMatchObject({ reason: 'disconnect' })
    expect(await tls.closed).toBe('connection closed')
    await ws.socket.closed
    expect(server.room.members().map((member) => member.name)).toEqual(['watcher'])
  }, 15_000)
})

describe('connections that never finish a TLS handshake', () => {
  test('2,000 silent or half-sent handshakes are all closed by the deadline while a real member joins and chats', async () => {
    const HANDSHAKE_SECONDS = 2
    await using server = await startTestServer({
      members: ['alice', 'bob'],
      limits: { handshakeTimeoutSeconds: HANDSHAKE_SECONDS },
    })
    // A ClientHello record announcing 512 bytes, of which only the first few arrive.
    const partialHello = new Uint8Array([
      0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3,
    ])
    const fdsBefore = openFileDescriptors()
    const rssBefore = process.memoryUsage().rss

    interface Hanger {
      readonly port: 'term' | 'web'
      readonly openedAt: number
      readonly closed: Promise<number>
    }
    async function hang(port: 'term' | 'web', partial: boolean): Promise<Hanger> {
      const closed = Promise.withResolvers<number>()
      const socket = await Bun.connect({
        hostname: '127.0.0.1',
        port: port === 'term' ? server.termPort : server.webPort,
        socket: { data() {}, close: () => closed.resolve(performance.now()), error() {} },
      })
      if (partial) socket.write(partialHello)
      return { port, openedAt: performance.now(), closed: closed.promise }
    }
    const plan = [
      ...Array.from({ length: 2000 }, (_, index) => ['term', index % 10 === 0] as const),
      ...Array.from({ length: 500 }, (_, index) => ['web', index % 10 === 0] as const),
    ]
    const hangers: Hanger[] = []
    for (let first = 0; first < plan.length; first += 250) {
      const batch = plan.slice(first, first + 250)
      hangers.push(...(await Promise.all(batch.map(([port, partial]) => hang(port, partial)))))
    }
    const fdsHanging = openFileDescriptors()
    const rssHanging = process.memoryUsage().rss
    let closedCount = 0
    for (const hanger of hangers) void hanger.closed.then(() => (closedCount += 1))

    // Meanwhile a real member on each port connects, joins and chats.
    const joinStarted = performance.now()
    await using alice = await connectTls(server)
    await using bob = await connectWebSocket(server)
    await join(alice, 'alice')
    await join(bob, 'bob')
    for (let n = 0; n < 10; n += 1) {
      alice.send({ type: 'app', ciphertext: ciphertextSaying(`a${n}`) })
      bob.send({ type: 'app', ciphertext: ciphertextSaying(`b${n}`) })
      expect((await bob.inbox.take('app', (frame) => frame.from === 'alice')).ciphertext).toBe(
        ciphertextSaying(`a${n}`),
      )
      expect((await alice.inbox.take('app', (frame) => frame.from === 'bob')).ciphertext).toBe(
        ciphertextSaying(`b${n}`),
      )
    }
    const chattedMs = performance.now() - joinStarted
    const openWhileChatting = hangers.length - closedCount

    const lifetimes = await Promise.all(
      hangers.map(async (hanger) => ({
        port: hanger.port,
        ms: (await hanger.closed) - hanger.openedAt,
      })),
    )
    const longest = (port: 'term' | 'web') =>
      Math.max(...lifetimes.filter((item) => item.port === port).map((item) => item.ms))
    const shortest = (port: 'term' | 'web') =>
      Math.min(...lifetimes.filter((item) => item.port === port).map((item) => item.ms))
    expect(openWhileChatting).toBeGreaterThan(0)
    expect(longest('term')).toBeLessThan(HANDSHAKE_SECONDS * 1000 + TIMER_TICK_MS + 1500)
    // The web port's deadline is Bun.serve's own: its idleTimeout does not reach a handshake
    // in progress (tried: set to 2 s, hanging handshakes still lasted 11 s), so it is 10 s.
    expect(longest('web')).toBeLessThan(WEB_IDLE_TIMEOUT_MS + TIMER_TICK_MS + 1500)
    // Both ends of every hanging link are gone: the server holds nothing for them.
    const fdsAfter = openFileDescriptors()
    expect(fdsAfter).toBeLessThan(fdsBefore + 20)
    Bun.gc(true)
    console.log(
      `handshakes: ${hangers.length} hanging links (${fdsHanging - fdsBefore} fds); a member joined ` +
        `and chatted in ${chattedMs.toFixed(0)} ms with ${openWhileChatting} still open; closed ` +
        `after ${shortest('term').toFixed(0)}–${longest('term').toFixed(0)} ms (TLS port), ` +
        `${shortest('web').toFixed(0)}–${longest('web').toFixed(0)} ms (web port); rss ` +
        `${mib(rssBefore)} → ${mib(rssHanging)} → ${mib(process.memoryUsage().rss)} MiB`,
    )
  }, 40_000)
})

describe('a full room', () => {
  test('a thousand members on both transports, fifty of them chatting, all receive every message once and in order', async () => {
    // The first 25 of each crowd chat: those are the group's members; the rest only listen.
    const chatters = ['crowdA', 'crowdB'].flatMap((prefix) =>
      Array.from({ length: 25 }, (_, index) => `${prefix}${index}`),
    )
    await using server = await startTestServer({ members: chatters })
    const certs = await testCertificates()
    const PER_FIXTURE = 500
    const rssBefore = process.memoryUsage().rss
    const crowds = ['crowdA', 'crowdB'].map((prefix) =>
      Bun.spawn(
        [
          'bun',
          joinPath(FIXTURES, 'crowd-fixture.ts'),
          String(server.webPort),
          String(server.termPort),
          joinPath(certs.dir, 'ca.pem'),
          prefix,
          String(PER_FIXTURE),
        ],
        { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' },
      ),
    )
    try {
      const lines = crowds.map((crowd) => jsonLines(crowd.stdout)[Symbol.asyncIterator]())
      const started = performance.now()
      const ready = await Promise.all(lines.map((line) => line.next()))
      const joinedMs = performance.now() - started
      expect(ready.map((result) => result.value)).toEqual([
        { ready: PER_FIXTURE, ms: expect.any(Number) },
        { ready: PER_FIXTURE, ms: expect.any(Number) },
      ])
      expect(server.room.members()).toHaveLength(2 * PER_FIXTURE)
      Bun.gc(true)
      const rssJoined = process.memoryUsage().rss

      // 25 chatters in each crowd, 10 messages each: 500 app frames for everyone.
      for (const crowd of crowds) {
        crowd.stdin.write('chat 25 10 500\n')
        crowd.stdin.flush()
      }
      const reports = await Promise.all(lines.map((line) => line.next()))
      const rssPeak = process.memoryUsage().rss
      Bun.gc(true)
      const rssAfter = process.memoryUsage().rss
      for (const report of reports) {
        expect(report.value).toEqual({
          members: PER_FIXTURE,
          minReceived: 500,
          maxReceived: 500,
          outOfOrder: 0,
          errors: [],
          ms: expect.any(Number),
        })
      }
      console.log(
        `crowd: 1000 joined in ${(joinedMs / 1000).toFixed(1)} s, 500 messages to all in ` +
          `${reports.map((report) => (report.value as { ms: number }).ms).join('/')} ms; server rss ` +
          `${mib(rssBefore)} → ${mib(rssJoined)} (1000 members) → ${mib(rssPeak)} → ${mib(rssAfter)} MiB after gc`,
      )
    } finally {
      for (const crowd of crowds) crowd.kill('SIGKILL')
    }
  }, 60_000)
})
