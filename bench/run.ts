// `bun run bench`: measures the product against the bare reference in the same run, each in its
// own pinned process, and prints Markdown tables (JSON under bench/results/). Quick by default,
// under two minutes; `--full` runs every workload at full size. See issue 7 for what and why.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateCertificates } from '../apps/server/certs.ts'
import { createKeyPackage, encryptMessage, foundGroup } from '../shared/client/mls.ts'
import { encodePayload, newMessageId } from '../shared/client/payload.ts'
import { createIdentityKeyPair } from '../shared/crypto/identity-key.ts'
import { encodeBase64url } from '../shared/protocol/base64url.ts'
import type { ClientReply, Target } from './ipc.ts'
import {
  type ClientProcess,
  choosePlacement,
  cpuSeconds,
  machineBusySeconds,
  rssBytes,
  type ServerProcess,
  startClient,
  startServer,
} from './proc.ts'
import { REDIS_DURABILITY, type RedisProcess, startRedis } from './redis.ts'
import { type CpuShare, fmt, type Latency, latencyOf, mb, ratio, table } from './report.ts'

const { values: flags } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'wait-quiet': { type: 'boolean', default: false },
    /** Overrides the size of (d) and (e). */
    connections: { type: 'string' },
    /** Runs exactly these rates (messages/s, comma-separated) instead of searching for the knee. */
    rates: { type: 'string' },
    /** Overrides the length of a ladder step. */
    'step-ms': { type: 'string' },
    /** Also run the reference's ladder with messages as large as the product's frames. */
    'same-bytes': { type: 'boolean' },
    /** Also run the reference's ladder with messages of these sizes (bytes, comma-separated). */
    'reference-bytes': { type: 'string' },
    /** Diagnostic: the product's store in memory instead of a temporary directory on disk. */
    'memory-store': { type: 'boolean' },
    /** Diagnostic: NAME=VALUE in the product server's environment (JSC options, say). */
    'server-env': { type: 'string', multiple: true },
  },
})

type Kind = 'reference' | 'product'
type WorkloadId = 'a' | 'b' | 'c' | 'd' | 'e' | 'r'

interface Config {
  readonly mode: 'quick' | 'full'
  readonly ladder: {
    readonly clients: number
    readonly start: number
    readonly factor: number
    readonly max: number
    readonly stepMs: number
    readonly drainMs: number
    /** Steps between the last pass and the first failure, to place the knee closer. */
    readonly bisections: number
    /** Run every failing step twice: one slow turn of a shared machine must not end the ladder. */
    readonly confirmFailures: boolean
  }
  readonly bursts: { readonly clients: number; readonly durationMs: number }
  readonly crowd: {
    readonly connections: number
    readonly processes: number
    readonly concurrency: number
    readonly messages: number
    readonly rate: number
  }
}

const QUICK: Config = {
  mode: 'quick',
  ladder: {
    clients: 64,
    start: 1000,
    factor: 2,
    max: 100_000,
    stepMs: 1500,
    drainMs: 1000,
    bisections: 1,
    confirmFailures: true,
  },
  bursts: { clients: 32, durationMs: 2000 },
  crowd: { connections: 1000, processes: 2, concurrency: 64, messages: 10, rate: 10 },
}

const FULL: Config = {
  mode: 'full',
  ladder: {
    clients: 64,
    start: 500,
    factor: Math.SQRT2,
    max: 100_000,
    stepMs: 4000,
    drainMs: 2000,
    bisections: 2,
    confirmFailures: true,
  },
  bursts: { clients: 32, durationMs: 10_000 },
  crowd: { connections: 10_000, processes: 4, concurrency: 100, messages: 30, rate: 5 },
}

const preset = flags.full ? FULL : QUICK
const config: Config = {
  ...preset,
  ladder: { ...preset.ladder, stepMs: Number(flags['step-ms'] ?? preset.ladder.stepMs) },
  crowd: { ...preset.crowd, connections: Number(flags.connections ?? preset.crowd.connections) },
}
const fixedRates = flags.rates?.split(',').map(Number)
const source = sourceState()
// (r) runs three ladders with a Redis beside them: only in the full run, or asked for by name.
const only = new Set(
  (flags.only ?? (config.mode === 'full' ? 'a,b,c,d,e,r' : 'a,b,c,d,e')).split(',') as WorkloadId[],
)
/** A step with more than this much of a core going to other programs is run again. */
const NOISY_OTHER_PCT = 25
const KNEE_P99_MS = 10
const MESSAGE_BYTES = 64

const placement = choosePlacement()
const log = (line: string) => console.error(`bench: ${line}`)
const benchStarted = Date.now()

// ---- set-up --------------------------------------------------------------------------------

if (flags['wait-quiet']) await waitForQuietMachine()
const loadAtStart = loadavg()
if ((loadAtStart[0] ?? 0) >= 1) {
  log(`the machine is busy (load ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}): expect noise`)
}

const certDir = mkdtempSync(join(tmpdir(), 'chatbox-bench-certs-'))
const certPaths = await generateCertificates({ dir: certDir })
const ca = readFileSync(certPaths.caCert, 'utf8')
const ciphertextLength = await measureCiphertextLength()
/** An `app` frame as the product delivers it (sender, time and sequence stamped around it). */
const deliveredFrameBytes = JSON.stringify({
  type: 'app',
  from: 'member000',
  at: Date.now(),
  ciphertext: 'A'.repeat(ciphertextLength),
  seq: 10_000,
}).length
/** The reference's extra ladders in (a): the product's frame size in the full run, or as asked. */
const referenceSizes = [
  ...((flags['same-bytes'] ?? config.mode === 'full') ? [deliveredFrameBytes] : []),
  ...(flags['reference-bytes']?.split(',').map(Number) ?? []),
]
const resultsDir = new URL('./results/', import.meta.url).pathname
const profileDir = flags.profile ? join(resultsDir, 'profiles', String(benchStarted)) : undefined
log(
  `${config.mode} run; ${placement.note}; a 64-byte text is ${ciphertextLength} characters of ciphertext`,
)

/** What a real 64-byte text message becomes on the wire: MLS PrivateMessage, then base64url. */
async function measureCiphertextLength(): Promise<number> {
  const identity = await createIdentityKeyPair()
  const own = await createKeyPackage({
    name: 'bench',
    signKey: identity.privateKeyBytes,
    publicKey: identity.publicKeyBytes,
  })
  let { state } = await foundGroup(own)
  let longest = 0
  for (let index = 0; index < 8; index += 1) {
    const payload = encodePayload({ kind: 'text', id: newMessageId(), text: 'm'.repeat(64) })
    const encrypted = await encryptMessage(state, payload)
    state = encrypted.state
    longest = Math.max(longest, encodeBase64url(encrypted.ciphertext).length)
  }
  return longest
}

async function waitForQuietMachine(): Promise<void> {
  const deadline = Date.now() + 30 * 60_000
  while ((loadavg()[0] ?? 0) >= 1 && Date.now() < deadline) {
    log(`waiting for a quiet machine (load ${(loadavg()[0] ?? 0).toFixed(2)})`)
    await Bun.sleep(30_000)
  }
}

// ---- processes -----------------------------------------------------------------------------

interface Rig {
  readonly kind: Kind
  /** What the log lines call it. */
  readonly name: string
  /** The first server: the only one but in (r). */
  readonly server: ServerProcess
  /** Every server; in (r), instances of the product sharing one room through Redis. */
  readonly servers: ServerProcess[]
  /** Redis when the servers share one, so its CPU is counted as the product's. */
  readonly redisPid?: number
  readonly clients: ClientProcess[]
  stop(): Promise<void>
}

/** (r): this many product instances, one room shared through this Redis. */
interface SharedRoom {
  readonly redis: RedisProcess
  readonly instances: number
}

async function startRig(
  kind: Kind,
  clientCount: number,
  label: string,
  { messageBytes = MESSAGE_BYTES, shared }: { messageBytes?: number; shared?: SharedRoom } = {},
): Promise<Rig> {
  const script = new URL(`./${kind}-server.ts`, import.meta.url).pathname
  const args = [
    '--key',
    certPaths.serverKey,
    '--cert',
    certPaths.serverCert,
    '--ca',
    certPaths.caCert,
    ...(flags['memory-store'] ? ['--data-dir', ':memory:'] : []),
    ...(shared ? ['--redis-url', shared.redis.url] : []),
  ]
  const cpuProfileDir = kind === 'product' && profileDir ? join(profileDir, label) : undefined
  const servers: ServerProcess[] = []
  // One after the other: the first to open takes the leader lease, so the Delivery Service runs
  // on the first instance in every run.
  for (let index = 0; index < (shared?.instances ?? 1); index += 1) {
    servers.push(
      await startServer(script, kind === 'reference' ? args.slice(0, 4) : args, placement, {
        cpuProfileDir,
        env: kind === 'product' ? serverEnv() : {},
      }),
    )
  }
  const server = servers[0] as ServerProcess
  const host = '127.0.0.1'
  const target: Target =
    kind === 'reference'
      ? { kind, host, webPort: server.ready.webPort, ca }
      : {
          kind,
          host,
          webPort: server.ready.webPort,
          termPort: server.ready.termPort ?? 0,
          ca,
          ciphertextLength,
        }
  const clients = Array.from({ length: clientCount }, () => startClient(placement))
  await Promise.all(
    clients.map((client) => client.request({ type: 'setup', target, messageBytes })),
  )
  return {
    kind,
    name: shared ? `product ×${shared.instances} + Redis` : kind,
    server,
    servers,
    redisPid: shared?.redis.pid,
    clients,
    async stop() {
      await Promise.all(clients.map((client) => client.stop()))
      await Promise.all(servers.map((each) => each.stop()))
      if (cpuProfileDir) log(`server CPU profile for ${label}: ${cpuProfileDir}`)
    },
  }
}

async function measured<T>(rig: Rig, body: () => Promise<T>): Promise<{ value: T; cpu: CpuShare }> {
  const clientCpu = () => rig.clients.reduce((sum, client) => sum + cpuSeconds(client.pid), 0)
  const ownCpu = () => {
    const usage = process.cpuUsage()
    return (usage.user + usage.system) / 1e6
  }
  const lags = () =>
    Promise.all([
      Promise.all(rig.servers.map((server) => server.lag())),
      Promise.all(
        rig.clients.map(async (client) => expect(await client.request({ type: 'lag' }), 'lag').lag),
      ),
    ])
  // Servers first, then Redis, clients, the whole machine and this process.
  const sample = () => [
    ...rig.servers.map((server) => cpuSeconds(server.pid)),
    rig.redisPid === undefined ? 0 : cpuSeconds(rig.redisPid),
    clientCpu(),
    machineBusySeconds(),
    ownCpu(),
  ]
  await lags()
  const before = sample()
  const started = performance.now()
  const startedAtMs = Date.now()
  const value = await body()
  const wallMs = performance.now() - started
  const endedAtMs = Date.now()
  const after = sample()
  const [serverLags, clientLags] = await lags()
  const used = after.map((value, index) => value - (before[index] as number))
  const perServer = used.slice(0, rig.servers.length)
  const [redis = 0, client = 0, machine = 0, own = 0] = used.slice(rig.servers.length)
  const server = perServer.reduce((sum, seconds) => sum + seconds, 0)
  const pct = (seconds: number) => (seconds / (wallMs / 1000)) * 100
  return {
    value,
    cpu: {
      serverPct: pct(server),
      perServerPct: perServer.map(pct),
      redisPct: pct(redis),
      clientPct: pct(client),
      otherPct: pct(Math.max(0, machine - server - redis - client - own)),
      wallMs,
      startedAtMs,
      endedAtMs,
      serverStallMs: Math.max(...serverLags.map((lag) => lag.maxMs)),
      clientStallMs: Math.max(...clientLags.map((lag) => lag.maxMs)),
    },
  }
}

/**
 * Runs a measurement again while other programs took more than NOISY_OTHER_PCT of a core during
 * it (at most three times in all), and keeps the quietest run.
 */
async function quietest<T>(
  rig: Rig,
  what: string,
  body: () => Promise<T>,
): Promise<{ value: T; cpu: CpuShare; attempts: number }> {
  let best = await measured(rig, body)
  let attempts = 1
  while (best.cpu.otherPct > NOISY_OTHER_PCT && attempts < 3) {
    log(`${rig.name} ${what}: other programs took ${fmt(best.cpu.otherPct)} % of a core; again`)
    await settle(rig, 10_000)
    const next = await measured(rig, body)
    attempts += 1
    if (next.cpu.otherPct < best.cpu.otherPct) best = next
  }
  return { ...best, attempts }
}

/** Waits until server and clients have been nearly idle for a moment (backlogs drained). */
async function settle(rig: Rig, maxMs: number): Promise<void> {
  const deadline = performance.now() + maxMs
  while (performance.now() < deadline) {
    const { cpu } = await measured(rig, () => Bun.sleep(250))
    const quiet = cpu.serverPct < 5 * rig.servers.length && cpu.redisPct < 5
    if (quiet && cpu.clientPct < 5 * rig.clients.length) return
  }
  log(`${rig.name}: still busy after ${maxMs} ms; measuring anyway`)
}

function expect<T extends ClientReply['type']>(
  reply: ClientReply,
  type: T,
): Extract<ClientReply, { type: T }> {
  if (reply.type !== type) throw new Error(`expected ${type}, got ${reply.type}`)
  return reply as Extract<ClientReply, { type: T }>
}

let nextStep = 0

// ---- (a), (b): the open-loop ladder --------------------------------------------------------

interface LadderStep {
  readonly rate: number
  readonly sentPerSecond: number
  readonly deliveredPerSecond: number
  readonly expectedPerSecond: number
  readonly lost: number
  readonly gaps: number
  readonly closed: number
  readonly latency: Latency
  readonly cpu: CpuShare
  readonly serverRssBytes: number
  /** How far the sender fell behind its clock at worst: a sign the client was saturated. */
  readonly senderLateMs: number
  readonly pass: boolean
  readonly repeat: boolean
}

interface Ladder {
  readonly members: number
  readonly tlsMembers: number
  readonly joinMs: number
  readonly steps: LadderStep[]
  /** Highest total send rate (messages/s) that passed; 0 when even the first step failed. */
  readonly knee: number
  readonly firstFailure?: number
}

function memberNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `member${String(index).padStart(3, '0')}`)
}

async function joinMembers(rig: Rig, count: number, tlsEvery?: number): Promise<number> {
  const client = rig.clients[0] as ClientProcess
  const transports = memberNames(count).map((_, index) =>
    tlsEvery && index % tlsEvery === 1 ? ('tls' as const) : ('wss' as const),
  )
  // Contiguous shares, one per server: in (r) each instance has half the members.
  const webPorts = memberNames(count).map((_, index) => {
    const server = rig.servers[Math.floor((index * rig.servers.length) / count)] ?? rig.server
    return server.ready.webPort
  })
  const reply = await client.request({
    type: 'join-members',
    names: memberNames(count),
    transports,
    webPorts,
    groupSize: count,
  })
  return expect(reply, 'ok').ms
}

async function ladderStep(rig: Rig, members: number, rate: number, repeat: boolean) {
  const client = rig.clients[0] as ClientProcess
  const step = nextStep++
  await client.request({ type: 'arm', step, senders: members })
  const { value, cpu } = await measured(rig, async () => {
    const sent = expect(
      await client.request({ type: 'send', step, rate, durationMs: config.ladder.stepMs }),
      'sent',
    )
    const collected = expect(
      await client.request({
        type: 'collect',
        step,
        expectedPerReceiver: sent.sent,
        timeoutMs: config.ladder.drainMs,
      }),
      'collected',
    )
    return { sent, collected }
  })
  const seconds = config.ladder.stepMs / 1000
  const { sent, collected } = value
  const latency = latencyOf([collected])
  const lost = collected.expected - collected.delivered
  const result: LadderStep = {
    rate,
    sentPerSecond: sent.sent / seconds,
    deliveredPerSecond: collected.delivered / seconds,
    expectedPerSecond: collected.expected / seconds,
    lost,
    gaps: collected.gaps,
    closed: collected.closed,
    latency,
    cpu,
    serverRssBytes: rig.servers.reduce((sum, server) => sum + rssBytes(server.pid), 0),
    senderLateMs: sent.lateMs,
    pass: lost === 0 && latency.p99Ms <= KNEE_P99_MS,
    repeat,
  }
  log(
    `${rig.name} ${rate} msg/s: p99 ${fmt(latency.p99Ms)} ms, lost ${lost}, server ${serverCpuText(cpu)} %, ` +
      `${rig.redisPid === undefined ? '' : `Redis ${fmt(cpu.redisPct)} %, `}client ${fmt(cpu.clientPct)} %, other ${fmt(cpu.otherPct)} %, stalls ${fmt(cpu.serverStallMs)}/` +
      `${fmt(cpu.clientStallMs)} ms → ${result.pass ? 'pass' : 'FAIL'}`,
  )
  await settle(rig, 10_000)
  return result
}

async function runLadder(
  rig: Rig,
  members: number,
  tlsMembers: number,
  joinMs: number,
): Promise<Ladder> {
  const steps: LadderStep[] = []
  // Warm-up, not reported: the JIT and the allocator settle before the first measured step.
  await ladderStep(rig, members, config.ladder.start / 2, false)
  const confirmed = async (rate: number): Promise<boolean> => {
    const first = await ladderStep(rig, members, rate, false)
    steps.push(first)
    if (first.pass) return true
    if (!config.ladder.confirmFailures && first.cpu.otherPct < NOISY_OTHER_PCT) return false
    const second = await ladderStep(rig, members, rate, true)
    steps.push(second)
    return second.pass
  }
  let knee = 0
  let failure: number | undefined
  if (fixedRates) {
    for (const rate of fixedRates) steps.push(await ladderStep(rig, members, rate, false))
    const passed = steps.filter((step) => step.pass).map((step) => step.rate)
    return { members, tlsMembers, joinMs, steps, knee: Math.max(0, ...passed) }
  }
  for (let rate = config.ladder.start; rate <= config.ladder.max; ) {
    if (await confirmed(rate)) knee = rate
    else {
      failure = rate
      break
    }
    rate = Math.round((rate * config.ladder.factor) / 100) * 100
  }
  for (let index = 0; index < config.ladder.bisections && failure !== undefined; index += 1) {
    const middle = Math.round(((knee || failure / 2) + failure) / 2 / 100) * 100
    if (middle <= knee || middle >= failure) break
    if (await confirmed(middle)) knee = middle
    else failure = middle
  }
  return { members, tlsMembers, joinMs, steps, knee, firstFailure: failure }
}

async function ladderWorkload(
  kind: Kind,
  tlsEvery: number | undefined,
  label: string,
  messageBytes = MESSAGE_BYTES,
  shared?: SharedRoom,
) {
  const rig = await startRig(kind, 1, label, { messageBytes, shared })
  try {
    const members = config.ladder.clients
    const joinMs = await joinMembers(rig, members, kind === 'product' ? tlsEvery : undefined)
    log(`${rig.name}: ${members} members joined in ${fmt(joinMs)} ms`)
    await settle(rig, 30_000)
    const tls = kind === 'product' && tlsEvery ? Math.floor(members / tlsEvery) : 0
    return await runLadder(rig, members, tls, joinMs)
  } finally {
    await rig.stop()
  }
}

// ---- (c): closed-loop bursts ---------------------------------------------------------------

interface Bursts {
  readonly clients: number
  readonly rounds: number
  readonly roundsPerSecond: number
  readonly deliveriesPerSecond: number
  readonly round: Latency
  readonly delivery: Latency
  readonly cpu: CpuShare
  readonly serverRssBytes: number
  readonly closed: number
}

async function burstWorkload(kind: Kind): Promise<Bursts> {
  const rig = await startRig(kind, 1, 'c')
  try {
    const client = rig.clients[0] as ClientProcess
    const clients = config.bursts.clients
    await joinMembers(rig, clients)
    await settle(rig, 30_000)
    await client.request({ type: 'bursts', step: nextStep++, durationMs: 500 })
    const { value, cpu } = await quietest(rig, 'bursts', async () =>
      expect(
        await client.request({
          type: 'bursts',
          step: nextStep++,
          durationMs: config.bursts.durationMs,
        }),
        'bursts-done',
      ),
    )
    const seconds = value.elapsedMs / 1000
    const result: Bursts = {
      clients,
      rounds: value.rounds,
      roundsPerSecond: value.rounds / seconds,
      deliveriesPerSecond: value.deliveries / seconds,
      round: latencyOf([{ histogram: value.roundHistogram, max: value.roundMax }]),
      delivery: latencyOf([value]),
      cpu,
      serverRssBytes: rssBytes(rig.server.pid),
      closed: value.closed,
    }
    log(
      `${kind} bursts: ${fmt(result.roundsPerSecond)} rounds/s, ${fmt(result.deliveriesPerSecond)} deliveries/s`,
    )
    return result
  } finally {
    await rig.stop()
  }
}

// ---- (d), (e): a crowd of idle connections, then one sender into it -------------------------

interface Crowd {
  readonly connections: number
  readonly opened: number
  readonly failed: number
  readonly handshakesPerSecond: number
  readonly handshakeCpu: CpuShare
  /** Product only: hello → challenge → auth → ready for every idle connection. */
  readonly joinsPerSecond?: number
  readonly joinCpu?: CpuShare
  readonly rssBeforeBytes: number
  readonly rssOpenBytes: number
  readonly rssAfterBytes: number
  readonly bytesPerConnection: number
  readonly heapBytesPerConnection: number
  readonly fanout: {
    readonly messages: number
    readonly delivered: number
    readonly expected: number
    readonly closed: number
    readonly latency: Latency
    readonly cpu: CpuShare
  }
}

/** The object types that grew most between two collections, per connection opened. */
function perConnection(
  before: { objectTypeCounts: Record<string, number> },
  after: { objectTypeCounts: Record<string, number> },
  opened: number,
): string {
  return Object.entries(after.objectTypeCounts)
    .map(([type, count]): [string, number] => [
      type,
      (count - (before.objectTypeCounts[type] ?? 0)) / Math.max(1, opened),
    ])
    .filter(([, perOne]) => perOne >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([type, perOne]) => `${type} ${perOne.toFixed(1)}`)
    .join(', ')
}

async function crowdWorkload(kind: Kind): Promise<Crowd> {
  const { connections, processes, concurrency, messages, rate } = config.crowd
  const rig = await startRig(kind, processes, 'de')
  try {
    const [first] = rig.clients as [ClientProcess, ...ClientProcess[]]
    await joinMembers(rig, 1)
    await settle(rig, 10_000)
    const before = await rig.server.gc()
    const heapBefore = before.heapBytes
    const rssBeforeBytes = rssBytes(rig.server.pid)

    // The sender is one member; the others are idle, shared between the client processes.
    const idle = connections - 1
    const shares = rig.clients.map(
      (_, index) => Math.floor(idle / processes) + (index < idle % processes ? 1 : 0),
    )
    const open = await measured(rig, () =>
      Promise.all(
        rig.clients.map((client, index) =>
          client.request({
            type: 'open-idle',
            count: shares[index] ?? 0,
            prefix: `idle${index}n`,
            concurrency,
          }),
        ),
      ),
    )
    const openReplies = open.value.map((reply) => expect(reply, 'opened'))
    const opened = openReplies.reduce((sum, reply) => sum + reply.opened, 0)
    const failed = openReplies.reduce((sum, reply) => sum + reply.failed, 0)
    const handshakesPerSecond = opened / (open.cpu.wallMs / 1000)
    log(
      `${kind}: ${opened} connections open (${failed} failed), ${fmt(handshakesPerSecond)} handshakes/s`,
    )
    await settle(rig, 30_000)
    await rig.server.gc()
    const rssOpenBytes = rssBytes(rig.server.pid)

    let joinsPerSecond: number | undefined
    let joinCpu: CpuShare | undefined
    if (kind === 'product') {
      const auth = await measured(rig, () =>
        Promise.all(
          rig.clients.map((client) => client.request({ type: 'auth-idle', concurrency })),
        ),
      )
      joinsPerSecond = opened / (auth.cpu.wallMs / 1000)
      joinCpu = auth.cpu
      log(`${kind}: ${opened} joined in ${fmt(auth.cpu.wallMs)} ms, ${fmt(joinsPerSecond)} joins/s`)
      await settle(rig, 600_000)
    }
    const after = await rig.server.gc()
    const heapAfter = after.heapBytes
    const rssAfterBytes = rssBytes(rig.server.pid)
    log(`${kind}: live objects per connection, by type: ${perConnection(before, after, opened)}`)

    const timeoutMs = (messages / rate) * 1000 + 15_000
    const fan = await quietest(rig, 'fan-out', async () => {
      const step = nextStep++
      await Promise.all(
        rig.clients.map((client) => client.request({ type: 'arm', step, senders: 1 })),
      )
      return Promise.all(
        rig.clients.map(async (client) => {
          if (client === first) {
            await client.request({ type: 'send', step, rate, count: messages })
          }
          return expect(
            await client.request({
              type: 'collect',
              step,
              expectedPerReceiver: messages,
              timeoutMs,
            }),
            'collected',
          )
        }),
      )
    })
    const fanLatency = latencyOf(fan.value)
    const result: Crowd = {
      connections,
      opened,
      failed,
      handshakesPerSecond,
      handshakeCpu: open.cpu,
      joinsPerSecond,
      joinCpu,
      rssBeforeBytes,
      rssOpenBytes,
      rssAfterBytes,
      bytesPerConnection: (rssAfterBytes - rssBeforeBytes) / Math.max(1, opened),
      heapBytesPerConnection: (heapAfter - heapBefore) / Math.max(1, opened),
      fanout: {
        messages,
        delivered: fan.value.reduce((sum, part) => sum + part.delivered, 0),
        expected: fan.value.reduce((sum, part) => sum + part.expected, 0),
        closed: fan.value.reduce((sum, part) => sum + part.closed, 0),
        latency: fanLatency,
        cpu: fan.cpu,
      },
    }
    log(
      `${kind}: ${fmt(result.bytesPerConnection)} B per connection; fan-out p50 ` +
        `${fmt(fanLatency.p50Ms)} ms, p99 ${fmt(fanLatency.p99Ms)} ms`,
    )
    return result
  } finally {
    await rig.stop()
  }
}

// ---- (r): one room shared through Redis ---------------------------------------------------

interface SharedRooms {
  readonly redisVersion: string
  readonly durability: string
  readonly embedded: Ladder
  readonly oneInstance: Ladder
  readonly twoInstances: Ladder
}

/**
 * (a)'s ladder three times in a row: the product alone on sqlite, one instance on Redis, and two
 * instances on the same Redis with the members split between them. Redis shares the servers'
 * cores, as it is their work; the room is emptied before each configuration.
 */
async function sharedRoomWorkload(): Promise<SharedRooms> {
  const embedded = await workload('r embedded', () =>
    ladderWorkload('product', undefined, 'r-embedded'),
  )
  const redis = await startRedis(placement.serverCores)
  log(`redis-server ${redis.version} at ${redis.url} (${REDIS_DURABILITY})`)
  try {
    const shared = (instances: number) => async () => {
      await redis.flush()
      return ladderWorkload('product', undefined, `r-${instances}`, MESSAGE_BYTES, {
        redis,
        instances,
      })
    }
    const oneInstance = await workload('r one instance + Redis', shared(1))
    const twoInstances = await workload('r two instances + Redis', shared(2))
    return {
      redisVersion: redis.version,
      durability: REDIS_DURABILITY,
      embedded,
      oneInstance,
      twoInstances,
    }
  } finally {
    await redis.stop()
  }
}

// ---- running and reporting -----------------------------------------------------------------

interface SizedLadder {
  readonly bytes: number
  readonly ladder: Ladder
}

interface Results {
  a?: { reference: Ladder; product: Ladder; referenceSized: SizedLadder[] }
  b?: { reference: Ladder; product: Ladder }
  c?: { reference: Bursts; product: Bursts }
  d?: { reference: Crowd; product: Crowd }
  r?: SharedRooms
}

const results: Results = {}
const loadPerWorkload: Record<string, number[]> = {}

async function workload<T>(id: string, run: () => Promise<T>): Promise<T> {
  loadPerWorkload[id] = loadavg()
  log(`workload ${id} (load ${(loadavg()[0] ?? 0).toFixed(2)})`)
  return run()
}

try {
  if (only.has('a') || only.has('b')) {
    const reference = await workload('a/b reference', () =>
      ladderWorkload('reference', undefined, 'a'),
    )
    if (only.has('a')) {
      const product = await workload('a product', () => ladderWorkload('product', undefined, 'a'))
      results.a = { reference, product, referenceSized: [] }
      // The bare relay moving the product's bytes: what part of the gap the frame size explains.
      for (const bytes of referenceSizes) {
        const ladder = await workload(`a reference, ${bytes}-byte messages`, () =>
          ladderWorkload('reference', undefined, 'a', bytes),
        )
        results.a.referenceSized.push({ bytes, ladder })
      }
    }
    if (only.has('b')) {
      const product = await workload('b product', () => ladderWorkload('product', 2, 'b'))
      results.b = { reference, product }
    }
  }
  if (only.has('c')) {
    const reference = await workload('c reference', () => burstWorkload('reference'))
    const product = await workload('c product', () => burstWorkload('product'))
    results.c = { reference, product }
  }
  if (only.has('d') || only.has('e')) {
    const reference = await workload('d/e reference', () => crowdWorkload('reference'))
    const product = await workload('d/e product', () => crowdWorkload('product'))
    results.d = { reference, product }
  }
  if (only.has('r')) results.r = await sharedRoomWorkload()
} finally {
  rmSync(certDir, { recursive: true, force: true })
}

const loadAtEnd = loadavg()
const markdown = render()
console.log(markdown)
mkdirSync(resultsDir, { recursive: true })
const stamp = new Date(benchStarted).toISOString().replace(/[:.]/g, '-')
const jsonPath = join(resultsDir, `bench-${config.mode}-${stamp}.json`)
writeFileSync(
  jsonPath,
  `${JSON.stringify(
    {
      mode: config.mode,
      startedAt: new Date(benchStarted).toISOString(),
      durationSeconds: (Date.now() - benchStarted) / 1000,
      machine: {
        cpu: cpus()[0]?.model,
        cores: cpus().length,
        memoryBytes: totalmem(),
        kernel: release(),
        bun: Bun.version,
      },
      placement: placement.note,
      source,
      load: { start: loadAtStart, end: loadAtEnd, perWorkload: loadPerWorkload },
      ciphertextLength,
      config,
      results,
      markdown,
    },
    null,
    2,
  )}\n`,
)
writeFileSync(jsonPath.replace(/\.json$/, '.md'), `${markdown}\n`)
log(
  `done in ${Math.round((Date.now() - benchStarted) / 1000)} s; JSON and Markdown in ${jsonPath.replace(/\.json$/, '.*')}`,
)
process.exit(0)

function render(): string {
  const out: string[] = []
  const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' ')
  out.push(`## chatbox bench (${config.mode})`)
  out.push('')
  out.push(
    `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${mb(totalmem())} MB, Linux ${release()}, ` +
      `Bun ${Bun.version}; ${placement.note}. Load average at start ${load(loadAtStart)}, at end ` +
      `${load(loadAtEnd)}. A 64-byte text encrypts to ${ciphertextLength} characters of base64url; ` +
      `the reference relays ${MESSAGE_BYTES}-byte messages. CPU is % of one core over the step; ` +
      '"other" is what the rest of the machine used meanwhile. A stall is the longest the ' +
      "process's event loop was late (a 5 ms timer); a server stall is often followed by a " +
      'client one, as the burst it held back arrives at once. Source: commit ' +
      `${source.commit.slice(0, 10)}${source.uncommitted.length > 0 ? ` plus uncommitted changes (${source.uncommitted.map((line) => line.slice(3)).join(', ')})` : ''}.`,
  )
  const summary: string[][] = []
  const target = (met: boolean) => (met ? 'met' : 'MISSED')

  for (const id of ['a', 'b'] as const) {
    const pair = results[id]
    if (!pair) continue
    const title =
      id === 'a'
        ? `(a) open-loop ladder, ${pair.product.members} WebSocket clients`
        : `(b) open-loop ladder, ${pair.product.tlsMembers} of ${pair.product.members} product clients on raw TLS (reference: WebSocket only, the run of (a))`
    out.push('', `### ${title}`, '')
    const sized = id === 'a' ? (results.a?.referenceSized ?? []) : []
    out.push(ladderTable(pair.reference, pair.product, sized))
    const refKnee = pair.reference.knee
    const prodKnee = pair.product.knee
    out.push(
      '',
      `Knee (p99 ≤ ${KNEE_P99_MS} ms, no loss): reference ${kneeText(pair.reference)}, product ` +
        `${kneeText(pair.product)} → ${ratio(prodKnee, refKnee)}. Product members joined the MLS ` +
        `group in ${fmt(pair.product.joinMs)} ms.` +
        sized
          .map(
            ({ bytes, ladder }) =>
              ` The reference relaying ${bytes}-byte messages` +
              (bytes === deliveredFrameBytes
                ? " (the size of the product's delivered frame)"
                : '') +
              `: ${kneeText(ladder)}, ${ratio(ladder.knee, refKnee)} of its knee with ` +
              `${MESSAGE_BYTES}-byte ones → product ${ratio(prodKnee, ladder.knee)} of it.`,
          )
          .join(''),
    )
    summary.push([
      `(${id}) knee, deliveries/s`,
      fmt(refKnee * pair.reference.members),
      fmt(prodKnee * pair.product.members),
      ratio(prodKnee, refKnee),
      '≥ 0.80× reference',
      target(refKnee > 0 && prodKnee >= 0.8 * refKnee),
    ])
  }

  if (results.c) {
    const { reference, product } = results.c
    out.push('', `### (c) closed-loop bursts, ${product.clients} WebSocket clients`, '')
    const row = (name: string, value: (b: Bursts) => number) => [
      name,
      fmt(value(reference)),
      fmt(value(product)),
      ratio(value(product), value(reference)),
    ]
    out.push(
      table(
        ['figure', 'reference', 'product', 'product / reference'],
        [
          row('rounds/s', (b) => b.roundsPerSecond),
          row('deliveries/s', (b) => b.deliveriesPerSecond),
          row('round p50 ms', (b) => b.round.p50Ms),
          row('round p99 ms', (b) => b.round.p99Ms),
          row('delivery p50 ms', (b) => b.delivery.p50Ms),
          row('delivery p99 ms', (b) => b.delivery.p99Ms),
          row('delivery p99.9 ms', (b) => b.delivery.p999Ms),
          row('server CPU %', (b) => b.cpu.serverPct),
          row('client CPU %', (b) => b.cpu.clientPct),
          row('other CPU %', (b) => b.cpu.otherPct),
          row('server longest stall ms', (b) => b.cpu.serverStallMs),
          row('client longest stall ms', (b) => b.cpu.clientStallMs),
          row('server RSS MB', (b) => b.serverRssBytes / 1024 / 1024),
          row('connections lost', (b) => b.closed),
        ],
      ),
    )
    summary.push([
      '(c) bursts, deliveries/s',
      fmt(reference.deliveriesPerSecond),
      fmt(product.deliveriesPerSecond),
      ratio(product.deliveriesPerSecond, reference.deliveriesPerSecond),
      '–',
      '–',
    ])
  }

  if (results.d) {
    const { reference, product } = results.d
    out.push(
      '',
      `### (d) ${fmt(product.connections)} idle connections (WebSocket; product: authenticated)`,
      '',
    )
    const row = (name: string, value: (c: Crowd) => number | undefined) => {
      const ref = value(reference) ?? Number.NaN
      const prod = value(product) ?? Number.NaN
      return [name, fmt(ref), fmt(prod), ratio(prod, ref)]
    }
    out.push(
      table(
        ['figure', 'reference', 'product', 'product / reference'],
        [
          row('connections open', (c) => c.opened),
          row('failed to open', (c) => c.failed),
          row('TLS + upgrade handshakes/s', (c) => c.handshakesPerSecond),
          row('handshakes per server CPU-second', (c) => serverCapacity(c)),
          row('server CPU % while opening', (c) => c.handshakeCpu.serverPct),
          row('client CPU % while opening', (c) => c.handshakeCpu.clientPct),
          row('joins/s (hello → ready)', (c) => c.joinsPerSecond),
          row('server CPU % while joining', (c) => c.joinCpu?.serverPct),
          row('client CPU % while joining', (c) => c.joinCpu?.clientPct),
          row('server RSS before, MB', (c) => c.rssBeforeBytes / 1024 / 1024),
          row('server RSS, all open, MB', (c) => c.rssOpenBytes / 1024 / 1024),
          row('server RSS, all idle members, MB', (c) => c.rssAfterBytes / 1024 / 1024),
          row('server RSS per connection, bytes', (c) => c.bytesPerConnection),
          row('JS heap per connection, bytes', (c) => c.heapBytesPerConnection),
        ],
      ),
    )
    out.push('', `### (e) one sender into a room of ${fmt(product.connections)}`, '')
    out.push(
      table(
        ['figure', 'reference', 'product', 'product / reference'],
        [
          row('messages sent', (c) => c.fanout.messages),
          row('deliveries expected', (c) => c.fanout.expected),
          row('delivered', (c) => c.fanout.delivered),
          row('lost', (c) => c.fanout.expected - c.fanout.delivered),
          row('p50 ms', (c) => c.fanout.latency.p50Ms),
          row('p99 ms', (c) => c.fanout.latency.p99Ms),
          row('p99.9 ms', (c) => c.fanout.latency.p999Ms),
          row('max ms', (c) => c.fanout.latency.maxMs),
          row('server CPU %', (c) => c.fanout.cpu.serverPct),
          row('client CPU %', (c) => c.fanout.cpu.clientPct),
          row('other CPU %', (c) => c.fanout.cpu.otherPct),
          row('server longest stall ms', (c) => c.fanout.cpu.serverStallMs),
          row('client longest stall ms', (c) => c.fanout.cpu.clientStallMs),
        ],
      ),
    )
    summary.push(
      [
        '(d) server memory per idle member, bytes',
        fmt(reference.bytesPerConnection),
        fmt(product.bytesPerConnection),
        ratio(product.bytesPerConnection, reference.bytesPerConnection),
        '≤ 10,240',
        target(product.bytesPerConnection <= 10_240),
      ],
      [
        '(d) TLS handshakes/s',
        fmt(reference.handshakesPerSecond),
        fmt(product.handshakesPerSecond),
        ratio(product.handshakesPerSecond, reference.handshakesPerSecond),
        '≥ 3,000',
        `${target(product.handshakesPerSecond >= 3000)}${bound(product.handshakeCpu)}`,
      ],
      [
        '(d) handshakes per server CPU-second',
        fmt(serverCapacity(reference)),
        fmt(serverCapacity(product)),
        ratio(serverCapacity(product), serverCapacity(reference)),
        '(server capacity on one core)',
        '–',
      ],
      [
        '(e) fan-out p99, ms',
        fmt(reference.fanout.latency.p99Ms),
        fmt(product.fanout.latency.p99Ms),
        ratio(product.fanout.latency.p99Ms, reference.fanout.latency.p99Ms),
        '≤ 150',
        target(
          product.fanout.latency.p99Ms <= 150 &&
            product.fanout.delivered === product.fanout.expected,
        ),
      ],
    )
  }

  if (results.r) out.push('', ...sharedRoomsReport(results.r))

  // (r) alone compares the product with itself: no targets to show.
  if (summary.length > 0) {
    out.push('', '### Targets', '')
    out.push(
      table(['figure', 'reference', 'product', 'product / reference', 'target', 'met'], summary),
    )
  }
  return out.join('\n')
}

function sharedRoomsReport(shared: SharedRooms): string[] {
  const { embedded, oneInstance, twoInstances } = shared
  const members = embedded.members
  const ladders: Array<[string, Ladder]> = [
    ['embedded (sqlite, one process)', embedded],
    ['one instance + Redis', oneInstance],
    ['two instances + Redis', twoInstances],
  ]
  const serverCores = placement.serverCores
  const kneeRow = ([name, ladder]: [string, Ladder]) => {
    const step = kneeStep(ladder)
    return [
      name,
      ladder.knee === 0 ? `< ${fmt(config.ladder.start)}` : fmt(ladder.knee),
      fmt(ladder.knee * ladder.members),
      fmt(step?.latency.p99Ms ?? Number.NaN),
      step ? serverCpuText(step.cpu) : '–',
      fmt(step?.cpu.redisPct ?? Number.NaN),
      fmt(step?.cpu.clientPct ?? Number.NaN),
      fmt(step?.cpu.otherPct ?? Number.NaN),
      ladder.firstFailure === undefined ? 'never (the ladder ended)' : fmt(ladder.firstFailure),
      fmt(ladder.joinMs),
    ]
  }
  return [
    `### (r) one room shared through Redis: (a)'s ladder, ${members} WebSocket clients`,
    '',
    `Redis ${shared.redisVersion} on the loopback with ${shared.durability}: every write on the ` +
      'disk before Redis acknowledges it, the durability the product documents. Emptied ' +
      `(FLUSHALL) before each configuration. With two instances, members 0–${members / 2 - 1} ` +
      `connect to the first and ${members / 2}–${members - 1} to the second; every member receives ` +
      `every message, so deliveries expected = messages × ${members} as in (a). The first ` +
      'instance to start holds the leader lease (the Delivery Service). Redis runs beside the ' +
      `servers (${serverCores === undefined ? 'unpinned' : coresText(serverCores)}); server CPU ` +
      'is per instance, first + second.',
    '',
    stepsTable(ladders, true),
    '',
    table(
      [
        'configuration',
        'knee msg/s',
        'knee deliveries/s',
        'p99 at knee ms',
        'server CPU % at knee',
        'Redis CPU %',
        'client CPU %',
        'other CPU %',
        'first failure msg/s',
        'members joined in ms',
      ],
      ladders.map(kneeRow),
    ),
    '',
    table(
      ['ratio of knees', 'deliveries/s'],
      [
        ['two instances ÷ one instance, both on Redis', ratio(twoInstances.knee, oneInstance.knee)],
        ['one instance on Redis ÷ embedded', ratio(oneInstance.knee, embedded.knee)],
        ['two instances on Redis ÷ embedded', ratio(twoInstances.knee, embedded.knee)],
      ],
    ),
    '',
    `This machine has ${cpus().length} cores: ${
      serverCores === undefined
        ? 'nothing is pinned, so servers, Redis and the load client compete for all of them'
        : `both instances and Redis share ${coresText(serverCores)} and the load client runs on ${coresText(placement.clientCores ?? '')}`
    }, so the two-instance knee is CPU-starved: it shows what sharing the room costs, not what a second machine would add.`,
  ]
}

function coresText(cores: string): string {
  return cores.includes('-') ? `cores ${cores}` : `core ${cores}`
}

/** The passing step at the knee (the last, if the rate ran more than once). */
function kneeStep(ladder: Ladder): LadderStep | undefined {
  return ladder.steps.filter((step) => step.pass && step.rate === ladder.knee).at(-1)
}

/** Server CPU as one figure, or per instance (first + second) when several share the room. */
function serverCpuText(cpu: CpuShare): string {
  if (cpu.perServerPct.length < 2) return fmt(cpu.serverPct)
  return cpu.perServerPct.map((pct) => fmt(pct)).join(' + ')
}

/** Which code was measured: the commit, and files under apps/ or shared/ that differ from it. */
function sourceState(): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]) =>
    Bun.spawnSync(['git', ...args], {
      cwd: new URL('..', import.meta.url).pathname,
    }).stdout.toString()
  return {
    commit: git('rev-parse', 'HEAD').trim(),
    uncommitted: git('status', '--porcelain', '--', 'apps', 'shared').split('\n').filter(Boolean),
  }
}

function serverEnv(): Record<string, string> {
  const pairs = (flags['server-env'] ?? []).map((pair) => pair.split('='))
  return Object.fromEntries(pairs.map(([name = '', ...value]) => [name, value.join('=')]))
}

function clientCoreCount(): number {
  const cores = placement.clientCores
  if (cores === undefined) return cpus().length
  const [first, last] = cores.split('-').map(Number)
  return last === undefined ? 1 : last - (first ?? 0) + 1
}

function bound(cpu: CpuShare): string {
  if (cpu.otherPct > NOISY_OTHER_PCT) return ` (noisy: other programs ${fmt(cpu.otherPct)} %)`
  // Client processes share the client cores: past 90 % of them they, not the server, set the pace.
  if (cpu.clientPct >= 90 * clientCoreCount()) return ' (client-bound)'
  // Redis, when there is one, runs on the servers' cores.
  if (cpu.serverPct + cpu.redisPct >= 90) return ' (server-bound)'
  return ''
}

/** Handshakes the server could take on one core, from its CPU time per handshake. */
function serverCapacity(crowd: Crowd): number {
  const serverSeconds = (crowd.handshakeCpu.serverPct / 100) * (crowd.handshakeCpu.wallMs / 1000)
  return crowd.opened / serverSeconds
}

function kneeText(ladder: Ladder): string {
  if (ladder.knee === 0) return `below ${fmt(config.ladder.start)} msg/s`
  const above = ladder.firstFailure === undefined ? ' (never failed: the ladder ended)' : ''
  return `${fmt(ladder.knee)} msg/s = ${fmt(ladder.knee * ladder.members)} deliveries/s${above}`
}

function ladderTable(reference: Ladder, product: Ladder, sized: SizedLadder[]): string {
  const ladders: Array<[string, Ladder]> = [
    ['reference', reference],
    ['product', product],
    ...sized.map(({ bytes, ladder }): [string, Ladder] => [
      `reference, ${bytes}-byte messages`,
      ladder,
    ]),
  ]
  const main = stepsTable(ladders)
  // Rates both ladders ran: each product figure as a ratio to the reference's at the same rate.
  const byRate = new Map(reference.steps.filter((s) => !s.repeat).map((s) => [s.rate, s]))
  const paired = product.steps
    .filter((step) => !step.repeat && byRate.has(step.rate))
    .map((step) => {
      const ref = byRate.get(step.rate) as LadderStep
      return [
        fmt(step.rate),
        ratio(step.deliveredPerSecond, ref.deliveredPerSecond),
        ratio(step.latency.p50Ms, ref.latency.p50Ms),
        ratio(step.latency.p99Ms, ref.latency.p99Ms),
        ratio(step.latency.p999Ms, ref.latency.p999Ms),
        ratio(step.cpu.serverPct, ref.cpu.serverPct),
        ratio(step.cpu.clientPct, ref.cpu.clientPct),
        ratio(step.serverRssBytes, ref.serverRssBytes),
      ]
    })
  const ratios = table(
    ['msg/s', 'delivered/s', 'p50', 'p99', 'p99.9', 'server CPU', 'client CPU', 'server RSS'],
    paired,
  )
  return `${main}\n\nProduct ÷ reference at the same rate:\n\n${ratios}`
}

/** Every step of these ladders, one row each; the Redis column only for (r). */
function stepsTable(ladders: ReadonlyArray<readonly [string, Ladder]>, withRedis = false): string {
  const rows: string[][] = []
  for (const [name, ladder] of ladders) {
    for (const step of ladder.steps) {
      rows.push([
        `${name}${step.repeat ? ' (again)' : ''}`,
        fmt(step.rate),
        fmt(step.sentPerSecond),
        fmt(step.deliveredPerSecond),
        fmt(step.expectedPerSecond),
        step.lost === 0
          ? '0'
          : `${fmt(step.lost)} (${((step.lost / step.expectedPerSecond / (config.ladder.stepMs / 1000)) * 100).toFixed(1)} %)`,
        fmt(step.latency.p50Ms),
        fmt(step.latency.p99Ms),
        fmt(step.latency.p999Ms),
        serverCpuText(step.cpu),
        ...(withRedis ? [fmt(step.cpu.redisPct)] : []),
        fmt(step.cpu.clientPct),
        fmt(step.cpu.otherPct),
        mb(step.serverRssBytes),
        fmt(step.cpu.serverStallMs),
        fmt(step.cpu.clientStallMs),
        `${step.pass ? 'pass' : 'fail'}${bound(step.cpu)}`,
      ])
    }
  }
  return table(
    [
      'target',
      'msg/s',
      'sent/s',
      'delivered/s',
      'expected/s',
      'lost',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      'server CPU %',
      ...(withRedis ? ['Redis CPU %'] : []),
      'client CPU %',
      'other CPU %',
      'server RSS MB',
      'server stall ms',
      'client stall ms',
      'pass',
    ],
    rows,
  )
}
