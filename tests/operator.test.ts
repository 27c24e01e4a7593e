// What an operator sees of `bun run serve`: its event log on stdout and /metrics, with real
// clients over real TLS doing what a team does. Both must say what happens (joins, refusals,
// commits, leaves, counts) and never what was said: no message, file name, secret or key.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import * as v from 'valibot'
import { ServerEventSchema } from '../apps/server/observe/events.ts'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import type { ConnectTransport } from '../shared/client/transport.ts'
import { webSocketTransport } from '../shared/client/websocket-transport.ts'
import { createIdentityKeyPair, signWithIdentity } from '../shared/crypto/identity-key.ts'
import { authMessage } from '../shared/protocol/frames.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { type EngineClient, startEngineSession } from './support/engine.ts'
import { connectClient, temporaryDirectory } from './support/harness.ts'
import { freePort, type ServeProcess, serve } from './support/serve-process.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(60_000)

const ROOM_SECRET = 'operator-test-room-secret-0123'
const WRONG_SECRET = 'a-wrong-guess-at-the-secret'
const METRICS_TOKEN = 'operator-metrics-token-4d1f'
const SECRET_TEXT = 'the launch code is tangerine-42'
const FILE_NAME = 'quarterly-plans-secret.txt'
const FILE_CONTENT = 'merger with ACME closes on Friday'

interface Served {
  readonly process: ServeProcess
  readonly webPort: number
  readonly termPort: number
  readonly ca: () => string
}

/** `bun run serve` in its own directories and on free ports, with these settings besides. */
async function startServe(dir: string, env: Record<string, string>): Promise<Served> {
  const webPort = freePort()
  let termPort = freePort()
  while (termPort === webPort) termPort = freePort()
  const certDir = joinPath(dir, 'certs')
  const process = serve({
    CHATBOX_DATA_DIR: joinPath(dir, 'data'),
    CHATBOX_CERT_DIR: certDir,
    CHATBOX_WEB_PORT: String(webPort),
    CHATBOX_TERM_PORT: String(termPort),
    ...env,
  })
  await process.until(env.CHATBOX_LOG_FORMAT === 'json' ? '"event":"started"' : 'data:')
  return {
    process,
    webPort,
    termPort,
    ca: () => readFileSync(joinPath(certDir, 'ca.pem'), 'utf8'),
  }
}

function overWebSocket(server: Served): ConnectTransport {
  return webSocketTransport({
    url: `wss://127.0.0.1:${server.webPort}/ws`,
    tls: { ca: server.ca() },
  })
}

function overTls(server: Served): ConnectTransport {
  return tlsTransport({
    hostname: '127.0.0.1',
    port: server.termPort,
    ca: server.ca(),
    serverName: 'localhost',
  })
}

/** Alice on the web port and bob on the terminal port, both in the group. */
async function aliceAndBob(server: Served, secret?: string) {
  const options = { reconnect: { initialMs: 100, maxMs: 1000 }, secret }
  const alice = await startEngineSession(overWebSocket(server), 'alice', options)
  const bob = await startEngineSession(overTls(server), 'bob', options)
  await bob.waitFor('membership', (event) => event.members.includes('alice'))
  // Alice too must have taken the commit that added bob: a message she encrypted before it, at
  // the old epoch, is logged after it, and bob (who joined at the new one) cannot read it.
  await alice.waitFor('membership', (event) => event.members.includes('bob'))
  return { alice, bob }
}

async function publicKeyOf(client: EngineClient): Promise<string> {
  const identity = await client.stores.identity.load()
  if (!identity) throw new Error('the client has no identity')
  return identity.publicKey
}

/** A line of the json event log: `at`, and the event exactly as the schema has it. */
const LogLineSchema = v.intersect([
  v.object({ at: v.pipe(v.string(), v.isoTimestamp()) }),
  ServerEventSchema,
])

/** Every stdout line as an event; a line that does not parse, or has a field more, fails. */
function eventLines(stdout: string) {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const raw: unknown = JSON.parse(line)
      const parsed = v.parse(LogLineSchema, raw)
      // valibot's objects drop keys they do not know: equal only if there were none.
      expect(parsed).toEqual(raw as typeof parsed)
      return parsed
    })
}

/** The samples of a Prometheus text exposition by `name{labels}`; throws on any line it cannot read. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  const typed = new Map<string, string>()
  expect(text.endsWith('\n')).toBe(true)
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line)
    if (comment) {
      const [, kind, name = '', rest = ''] = comment
      if (kind === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(rest)
        typed.set(name, rest)
      }
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line)
    if (!sample) throw new Error(`not an exposition line: ${line}`)
    const [, name = '', labels = '', value = ''] = sample
    const family = name.replace(/_(bucket|sum|count)$/, '')
    if (!typed.has(name) && typed.get(family) !== 'histogram') {
      throw new Error(`a sample before its TYPE line: ${line}`)
    }
    if (labels)
      expect(labels).toMatch(
        /^\{([a-zA-Z_]\w*="(?:[^"\\]|\\.)*")(,[a-zA-Z_]\w*="(?:[^"\\]|\\.)*")*\}$/,
      )
    const number = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value)
    if (Number.isNaN(number) && value !== 'NaN') throw new Error(`not a value: ${line}`)
    samples.set(`${name}${labels}`, number)
  }
  return samples
}

async function getMetrics(server: Served, headers: Record<string, string> = {}) {
  return fetch(`https://127.0.0.1:${server.webPort}/metrics`, {
    headers,
    tls: { ca: server.ca() },
  })
}

describe('the event log', () => {
  test('json lines parse and carry a join, refusals, commits and leaves; stdout holds no message, file name, secret or key', async () => {
    using dir = temporaryDirectory()
    const server = await startServe(dir, {
      CHATBOX_LOG_FORMAT: 'json',
      CHATBOX_ROOM_SECRET: ROOM_SECRET,
    })
    const { alice, bob } = await aliceAndBob(server, ROOM_SECRET)
    const keys = [await publicKeyOf(alice), await publicKeyOf(bob)]
    await alice.session.sendText(SECRET_TEXT)
    await alice.session.sendFile({ name: FILE_NAME, bytes: new TextEncoder().encode(FILE_CONTENT) })
    await bob.waitFor('message', (event) => event.text === SECRET_TEXT)
    await bob.waitFor('file', (event) => event.name === FILE_NAME)

    // Someone else's key under alice's name, and a wrong room secret, both from this machine.
    await using mallory = await connectClient(overTls(server))
    const malloryKeys = await createIdentityKeyPair()
    mallory.send({
      type: 'hello',
      name: 'alice',
      identityKey: malloryKeys.publicKeyText,
      secret: ROOM_SECRET,
    })
    const { nonce } = await mallory.inbox.take('challenge')
    const signature = await signWithIdentity(malloryKeys, authMessage(nonce, 'alice'))
    mallory.send({ type: 'auth', signature })
    expect(await mallory.inbox.take('error')).toMatchObject({ code: 'name_taken' })
    await using guesser = await connectClient(overTls(server))
    guesser.send({
      type: 'hello',
      name: 'guesser',
      identityKey: malloryKeys.publicKeyText,
      secret: WRONG_SECRET,
    })
    expect(await guesser.inbox.take('error')).toMatchObject({ code: 'bad_secret' })

    // Bob quits; alice commits his removal.
    await bob.session.leave()
    await server.process.until('"removes":1')
    server.process.child.kill('SIGTERM')
    const { code } = await server.process.exit()
    expect(code).toBe(0)
    await alice.session.close()

    const events = eventLines(server.process.stdout)
    const at = { transport: 'tls', address: '127.0.0.1' } as const
    for (const expected of [
      { event: 'started', roomSecret: true, newCertificates: true },
      { event: 'join', name: 'alice', transport: 'wss' },
      { event: 'join', name: 'bob', transport: 'tls' },
      { event: 'group_founded', founder: 'alice' },
      { event: 'commit_accepted', committer: 'alice', epoch: 1, adds: 1, removes: 0, size: 2 },
      { event: 'refused', code: 'name_taken', fatal: false, name: 'alice', ...at },
      { event: 'refused', code: 'bad_secret', fatal: true, ...at },
      { event: 'leave', name: 'bob', transport: 'tls', reason: 'quit' },
      { event: 'commit_accepted', committer: 'alice', epoch: 2, adds: 0, removes: 1, size: 1 },
      { event: 'stopping', signal: 'SIGTERM' },
      { event: 'leave', name: 'alice', transport: 'wss', reason: 'shutdown' },
    ]) {
      expect(events).toContainEqual(expect.objectContaining(expected))
    }
    console.info(`the event log of one conversation: ${events.length} lines`)

    const output = server.process.output
    for (const secret of [
      SECRET_TEXT,
      'tangerine',
      FILE_NAME,
      'quarterly',
      FILE_CONTENT,
      'ACME',
      ROOM_SECRET,
      WRONG_SECRET,
      malloryKeys.publicKeyText,
      ...keys,
    ]) {
      expect(output).not.toContain(secret)
    }
    // Nothing that could be a key, a signature or ciphertext: no long base64url run at all.
    expect(server.process.stdout).not.toMatch(/[A-Za-z0-9_-]{43}/)
  })
})

describe('/metrics', () => {
  test('answers a scrape from this machine in the Prometheus text format, with counts that match the room', async () => {
    using dir = temporaryDirectory()
    const server = await startServe(dir, {})
    try {
      const { alice, bob } = await aliceAndBob(server)
      await alice.session.sendText(SECRET_TEXT)
      await bob.waitFor('message', (event) => event.text === SECRET_TEXT)
      await using prober = await connectClient(overTls(server))
      prober.sendRaw('{not json')
      expect(await prober.inbox.take('error')).toMatchObject({ code: 'bad_json' })
      // A WebSocket message past the frame limit, which Bun refuses before the room sees it.
      await using oversize = await connectClient(overWebSocket(server))
      oversize.sendRaw('x'.repeat(createLimits().maxFrameBytes + 1))
      await oversize.closed

      const response = await getMetrics(server)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
      expect(response.headers.get('x-content-type-options')).toBe('nosniff')
      const body = await response.text()
      const metrics = parseExposition(body)
      const value = (key: string) => {
        const found = metrics.get(key)
        if (found === undefined) throw new Error(`no ${key} in:\n${body}`)
        return found
      }
      expect(value('chatbox_connections{transport="wss"}')).toBe(1)
      expect(value('chatbox_connections{transport="tls"}')).toBe(2)
      expect(value('chatbox_members_connected')).toBe(2)
      expect(value('chatbox_members_online')).toBe(2)
      expect(value('chatbox_group_epoch')).toBe(1)
      expect(value('chatbox_group_size')).toBe(2)
      expect(value('chatbox_joins_total')).toBe(2)
      expect(value('chatbox_refusals_total{code="bad_json"}')).toBe(1)
      expect(value('chatbox_refusals_total{code="frame_too_large"}')).toBe(1)
      expect(value('chatbox_commits_total{outcome="accepted"}')).toBe(1)
      expect(value('chatbox_commit_latency_seconds_count')).toBe(1)
      expect(value('chatbox_commit_latency_seconds_bucket{le="+Inf"}')).toBe(1)
      expect(value('chatbox_commit_latency_seconds_sum')).toBeGreaterThan(0)
      expect(value('chatbox_commit_latency_seconds_sum')).toBeLessThan(5)
      // The commit, and alice's message.
      expect(value('chatbox_log_entries')).toBe(2)
      expect(value('chatbox_log_bytes')).toBeGreaterThan(SECRET_TEXT.length)
      for (const transport of ['wss', 'tls']) {
        const frames = value(`chatbox_deliveries_total{transport="${transport}"}`)
        expect(frames).toBeGreaterThanOrEqual(3)
        expect(value(`chatbox_delivered_bytes_total{transport="${transport}"}`)).toBeGreaterThan(
          frames * 20,
        )
      }
      expect(value('chatbox_event_loop_lag_seconds')).toBeGreaterThanOrEqual(0)
      expect(value('chatbox_event_loop_lag_seconds')).toBeLessThan(5)
      console.info(`a scrape: ${metrics.size} samples, ${body.length} bytes`)
      // Counts, never who or what.
      for (const secret of ['alice', 'bob', SECRET_TEXT, 'tangerine']) {
        expect(body).not.toContain(secret)
      }
      // /healthz is as it was.
      const health = await fetch(`https://127.0.0.1:${server.webPort}/healthz`, {
        tls: { ca: server.ca() },
      })
      expect(await health.json()).toEqual({ ok: true })
      await alice.session.close()
      await bob.session.close()
    } finally {
      server.process.child.kill('SIGTERM')
      await server.process.exit()
    }
  })

  test('with CHATBOX_METRICS_TOKEN set, answers only a scrape that carries it, this machine included', async () => {
    using dir = temporaryDirectory()
    const server = await startServe(dir, { CHATBOX_METRICS_TOKEN: METRICS_TOKEN })
    try {
      const without = await getMetrics(server)
      expect(without.status).toBe(401)
      expect(without.headers.get('www-authenticate')).toStartWith('Bearer')
      expect(await without.text()).not.toContain('chatbox_')
      const wrong = await getMetrics(server, { Authorization: `Bearer ${METRICS_TOKEN}x` })
      expect(wrong.status).toBe(401)
      const right = await getMetrics(server, { Authorization: `Bearer ${METRICS_TOKEN}` })
      expect(right.status).toBe(200)
      expect(parseExposition(await right.text()).get('chatbox_members_online')).toBe(0)
      const health = await fetch(`https://127.0.0.1:${server.webPort}/healthz`, {
        tls: { ca: server.ca() },
      })
      expect(health.status).toBe(200)
    } finally {
      server.process.child.kill('SIGTERM')
      const { output } = await server.process.exit()
      expect(output).not.toContain(METRICS_TOKEN)
    }
  })
})
