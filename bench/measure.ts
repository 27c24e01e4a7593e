// Measuring around a body: CPU shares, stalls, wall time; again on a noisy machine; reading them.
import { machineHeld } from './lag.ts'
import { cpuSeconds, machineBusySeconds } from './proc.ts'
import { type CpuShare, fmt } from './report.ts'
import { expectReply, log, type Processes } from './rig.ts'
import { NOISY_OTHER_PCT } from './settings.ts'

export async function measured<T>(
  processes: Processes,
  body: () => Promise<T>,
): Promise<{ value: T; cpu: CpuShare }> {
  const { servers, clients, redisPid } = processes
  const clientCpu = () => clients.reduce((sum, client) => sum + cpuSeconds(client.pid), 0)
  const ownCpu = () => {
    const usage = process.cpuUsage()
    return (usage.user + usage.system) / 1e6
  }
  const lags = () =>
    Promise.all([
      Promise.all(servers.map((server) => server.lag())),
      Promise.all(
        clients.map(
          async (client) => expectReply(await client.request({ type: 'lag' }), 'lag').lag,
        ),
      ),
    ])
  // Servers first, then Redis, clients, the whole machine and this process.
  const sample = () => [
    ...servers.map((server) => cpuSeconds(server.pid)),
    redisPid === undefined ? 0 : cpuSeconds(redisPid),
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
  const perServer = used.slice(0, servers.length)
  const [redis = 0, client = 0, machine = 0, own = 0] = used.slice(servers.length)
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
      serverStallsOver: serverLags[0]?.over ?? [],
      serverWorstStallAtMs: serverLags[0]?.worstAtMs ?? 0,
      serverStalls: serverLags[0]?.stalls ?? [],
      clientStalls: clientLags.flatMap((lag) => lag.stalls),
      clientStallMs: Math.max(...clientLags.map((lag) => lag.maxMs)),
    },
  }
}

/**
 * Runs a measurement again while other programs took more than NOISY_OTHER_PCT of a core during
 * it (at most three times in all), and keeps the quietest run.
 */
export async function quietest<T>(
  processes: Processes,
  what: string,
  body: () => Promise<T>,
): Promise<{ value: T; cpu: CpuShare; attempts: number }> {
  let best = await measured(processes, body)
  let attempts = 1
  while (best.cpu.otherPct > NOISY_OTHER_PCT && attempts < 3) {
    log(
      `${processes.name} ${what}: other programs took ${fmt(best.cpu.otherPct)} % of a core; again`,
    )
    await settle(processes, 10_000)
    const next = await measured(processes, body)
    attempts += 1
    if (next.cpu.otherPct < best.cpu.otherPct) best = next
  }
  return { ...best, attempts }
}

/** Waits until server and clients have been nearly idle for a moment (backlogs drained). */
export async function settle(processes: Processes, maxMs: number): Promise<void> {
  const deadline = performance.now() + maxMs
  while (performance.now() < deadline) {
    const { cpu } = await measured(processes, () => Bun.sleep(250))
    const quiet = cpu.serverPct < 5 * processes.servers.length && cpu.redisPct < 5
    if (quiet && cpu.clientPct < 5 * processes.clients.length) return
  }
  log(`${processes.name}: still busy after ${maxMs} ms; measuring anyway`)
}

/**
 * Whether a server or a client had nothing on its core for most of an accounted stall during the
 * measurement (lag.ts's machineHeld): the machine, not the program, held it up then. On this VM a
 * 5 ms timer in an idle process woke up to 57 ms late without running or waiting, and a kernel
 * thread took 8–15 ms of every 30 from the server's core at times; either fails a 10 ms p99 for
 * anyone.
 */
export function machineStalled(cpu: CpuShare): boolean {
  return cpu.serverStalls.some(machineHeld) || cpu.clientStalls.some(machineHeld)
}

/** Server CPU as one figure, or per instance (first + second) when several share the room. */
export function serverCpuText(cpu: CpuShare): string {
  if (cpu.perServerPct.length < 2) return fmt(cpu.serverPct)
  return cpu.perServerPct.map((pct) => fmt(pct)).join(' + ')
}

/** What held a measurement back, when something did: the machine, the clients or the server. */
export function bound(cpu: CpuShare, clientCoreCount: number): string {
  if (cpu.otherPct > NOISY_OTHER_PCT) return ` (noisy: other programs ${fmt(cpu.otherPct)} %)`
  if (machineStalled(cpu)) return ' (the machine held a process through a stall)'
  // Client processes share the client cores: past 90 % of them they, not the server, set the pace.
  if (cpu.clientPct >= 90 * clientCoreCount) return ' (client-bound)'
  // Redis, when there is one, runs on the servers' cores.
  if (cpu.serverPct + cpu.redisPct >= 90) return ' (server-bound)'
  return ''
}
