// The rig every workload runs on: cores, certificates, the server and load-client processes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CertificatePaths, generateCertificates } from '../apps/server/certs.ts'
import { createKeyPackage, encryptMessage, foundGroup } from '../shared/client/mls.ts'
import { encodePayload, newMessageId } from '../shared/client/payload.ts'
import { createIdentityKeyPair } from '../shared/crypto/identity-key.ts'
import { encodeBase64url } from '../shared/protocol/base64url.ts'
import { encodeFrame } from '../shared/protocol/codec.ts'
import type { ClientReply, Target } from './ipc.ts'
import {
  type ClientProcess,
  choosePlacement,
  type Placement,
  type ServerProcess,
  startClient,
  startServer,
} from './proc.ts'
import type { RedisProcess } from './redis.ts'
import {
  type Config,
  type Kind,
  MESSAGE_BYTES,
  type Settings,
  type WorkloadId,
} from './settings.ts'

export const log = (line: string) => console.error(`bench: ${line}`)

export const resultsDir = new URL('./results/', import.meta.url).pathname

/** The processes one workload measures: a target's servers and the load clients driving them. */
export interface Processes {
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
  /** The clients the members are spread over (the first ones); the soak's churn is not one. */
  readonly memberClients: ClientProcess[]
  stop(): Promise<void>
}

/** (r): this many product instances, one room shared through this Redis. */
export interface SharedRoom {
  readonly redis: RedisProcess
  readonly instances: number
}

export interface StartOptions {
  readonly messageBytes?: number
  readonly shared?: SharedRoom
  /** The servers' nice value (the soak's `--soak-nice`); the clients keep the bench's. */
  readonly nice?: number
  /** How many of the clients hold members (joinMembers); one unless given. */
  readonly memberClients?: number
}

export interface Rig {
  readonly settings: Settings
  readonly config: Config
  readonly placement: Placement
  /** Cores the load clients share: past 90 % of them they, not the server, set the pace. */
  readonly clientCoreCount: number
  /**
   * Load-client processes a ladder spreads its members over: one per client core unless
   * `--ladder-clients` says. One process reads at most one core's worth, and on this 2-core
   * machine that was what bounded the bare relay's knee (docs/performance.md).
   */
  readonly ladderClients: number
  readonly startedAt: number
  readonly loadAtStart: number[]
  /** The load average as each workload (and each part of one) began. */
  readonly loadPerWorkload: Record<string, number[]>
  /** What a real 64-byte text becomes on the wire, in characters of base64url. */
  readonly ciphertextBytes: number
  /** An `app` frame as the product delivers it (sender, time and sequence stamped around it). */
  readonly deliveredFrameBytes: number
  /** A number no other step of this run uses, to tell the load clients' steps apart. */
  nextStep(): number
  /** Logs and records the load as the part named `id` begins, then runs it. */
  workload<T>(id: string, run: () => Promise<T>): Promise<T>
  start(kind: Kind, clientCount: number, label: string, options?: StartOptions): Promise<Processes>
  /** Removes the certificates. */
  close(): void
}

/** A workload's Markdown: its own tables, and its rows in the closing table of targets. */
export interface Section {
  readonly markdown: readonly string[]
  readonly targets: ReadonlyArray<readonly string[]>
}

/** A module under workloads/: the letters `--only` picks it by, how it runs, how it reads. */
export interface Workload<R extends object> {
  readonly ids: readonly WorkloadId[]
  run(rig: Rig): Promise<R>
  report(rig: Rig, results: R): Section
}

export async function createRig(settings: Settings): Promise<Rig> {
  const { config } = settings
  const placement = choosePlacement()
  const startedAt = Date.now()
  if (settings.waitQuiet) await waitForQuietMachine()
  const loadAtStart = loadavg()
  if ((loadAtStart[0] ?? 0) >= 1) {
    log(
      `the machine is busy (load ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}): expect noise`,
    )
  }
  const certDir = mkdtempSync(join(tmpdir(), 'chatbox-bench-certs-'))
  const certs = await generateCertificates({ dir: certDir })
  const ciphertextBytes = await measureCiphertextBytes()
  const launch: Launch = {
    settings,
    placement,
    certs,
    ca: readFileSync(certs.caCert, 'utf8'),
    ciphertextBytes,
    profileDir: settings.profile ? join(resultsDir, 'profiles', String(startedAt)) : undefined,
  }
  log(
    `${config.mode} run; ${placement.note}; a 64-byte text is ${ciphertextBytes} bytes of ciphertext`,
  )
  let step = 0
  const loadPerWorkload: Record<string, number[]> = {}
  return {
    settings,
    config,
    placement,
    clientCoreCount: clientCoreCount(placement),
    ladderClients: settings.ladderClients ?? clientCoreCount(placement),
    startedAt,
    loadAtStart,
    loadPerWorkload,
    ciphertextBytes,
    // The frame the product delivers, as its own codec encodes it.
    deliveredFrameBytes: encodeFrame({
      type: 'app',
      from: 'member000',
      at: Date.now(),
      ciphertext: encodeBase64url(new Uint8Array(ciphertextBytes)),
      seq: 10_000,
    }).length,
    nextStep: () => step++,
    workload(id, run) {
      loadPerWorkload[id] = loadavg()
      log(`workload ${id} (load ${(loadavg()[0] ?? 0).toFixed(2)})`)
      return run()
    },
    start: (kind, clientCount, label, options) =>
      startProcesses(launch, kind, clientCount, label, options),
    close: () => rmSync(certDir, { recursive: true, force: true }),
  }
}

/** What starting a target needs from the rig. */
interface Launch {
  readonly settings: Settings
  readonly placement: Placement
  readonly certs: CertificatePaths
  readonly ca: string
  readonly ciphertextBytes: number
  readonly profileDir?: string
}

async function startProcesses(
  launch: Launch,
  kind: Kind,
  clientCount: number,
  label: string,
  { messageBytes = MESSAGE_BYTES, shared, nice, memberClients = 1 }: StartOptions = {},
): Promise<Processes> {
  const { certs, placement, settings, ca, ciphertextBytes } = launch
  const script = new URL(`./${kind}-server.ts`, import.meta.url).pathname
  const args = [
    '--key',
    certs.serverKey,
    '--cert',
    certs.serverCert,
    '--ca',
    certs.caCert,
    ...(settings.memoryStore ? ['--data-dir', ':memory:'] : []),
    ...(shared ? ['--redis-url', shared.redis.url] : []),
  ]
  const cpuProfileDir =
    kind === 'product' && launch.profileDir ? join(launch.profileDir, label) : undefined
  const servers: ServerProcess[] = []
  // One after the other: the first to open takes the leader lease, so the Delivery Service runs
  // on the first instance in every run.
  for (let index = 0; index < (shared?.instances ?? 1); index += 1) {
    servers.push(
      await startServer(script, kind === 'reference' ? args.slice(0, 4) : args, placement, {
        cpuProfileDir,
        env: kind === 'product' ? { ...settings.serverEnv } : {},
        nice,
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
          ciphertextBytes,
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
    memberClients: clients.slice(0, memberClients),
    async stop() {
      await Promise.all(clients.map((client) => client.stop()))
      await Promise.all(servers.map((each) => each.stop()))
      if (cpuProfileDir) log(`server CPU profile for ${label}: ${cpuProfileDir}`)
    },
  }
}

export function expectReply<T extends ClientReply['type']>(
  reply: ClientReply,
  type: T,
): Extract<ClientReply, { type: T }> {
  if (reply.type !== type) throw new Error(`expected ${type}, got ${reply.type}`)
  return reply as Extract<ClientReply, { type: T }>
}

function memberNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `member${String(index).padStart(3, '0')}`)
}

/** Joins `count` members over the member clients; every `tlsEvery`th on raw TLS. */
export async function joinMembers(
  processes: Processes,
  count: number,
  tlsEvery?: number,
): Promise<number> {
  const names = memberNames(count)
  const transports = names.map((_, index) =>
    tlsEvery && index % tlsEvery === 1 ? ('tls' as const) : ('wss' as const),
  )
  // Contiguous shares, one per server: in (r) each instance has half the members.
  const webPorts = names.map((_, index) => {
    const { servers } = processes
    const server = servers[Math.floor((index * servers.length) / count)] ?? processes.server
    return server.ready.webPort
  })
  // Contiguous shares, one per member client, joining at once: a member's engine may be asked to
  // commit another client's members, so every engine stays until all are in.
  const replies = await Promise.all(
    processes.memberClients.map((client, index) => {
      const { from, to } = memberShare(index, processes.memberClients.length, count)
      return client.request({
        type: 'join-members',
        names: names.slice(from, to),
        transports: transports.slice(from, to),
        webPorts: webPorts.slice(from, to),
        groupSize: count,
        firstSender: from,
      })
    }),
  )
  return Math.max(...replies.map((reply) => expectReply(reply, 'ok').ms))
}

/** Member client `index` of `clients` holds members [from, to) of `count`. */
export function memberShare(
  index: number,
  clients: number,
  count: number,
): { from: number; to: number } {
  return {
    from: Math.floor((index * count) / clients),
    to: Math.floor(((index + 1) * count) / clients),
  }
}

/** What a real 64-byte text message becomes: the bytes of its MLS PrivateMessage. */
async function measureCiphertextBytes(): Promise<number> {
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
    longest = Math.max(longest, encrypted.ciphertext.length)
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

function clientCoreCount(placement: Placement): number {
  const cores = placement.clientCores
  if (cores === undefined) return cpus().length
  const [first, last] = cores.split('-').map(Number)
  return last === undefined ? 1 : last - (first ?? 0) + 1
}
