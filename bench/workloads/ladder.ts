// The open-loop ladder that (a), (b) and (r) climb: its steps, the search for the knee, its tables.
import type { ClientReply } from '../ipc.ts'
import { bound, machineStalled, measured, serverCpuText, settle } from '../measure.ts'
import { rssBytes } from '../proc.ts'
import { type CpuShare, fmt, type Latency, latencyOf, mb, table } from '../report.ts'
import {
  expectReply,
  joinMembers,
  log,
  memberShare,
  type Processes,
  type Rig,
  type SharedRoom,
  type StartOptions,
} from '../rig.ts'
import { type Kind, KNEE_P99_MS, MESSAGE_BYTES, NOISY_OTHER_PCT } from '../settings.ts'

const MAX_RUNS_A_RATE = 3

export interface LadderStep {
  readonly rate: number
  readonly sentPerSecond: number
  readonly deliveredPerSecond: number
  readonly expectedPerSecond: number
  readonly lost: number
  readonly gaps: number
  /** Frames that came after a later one from the same sender (a relay keeps each sender's order). */
  readonly outOfOrder: number
  readonly closed: number
  readonly latency: Latency
  readonly cpu: CpuShare
  readonly serverRssBytes: number
  /** How far the sender fell behind its clock at worst: a sign the client was saturated. */
  readonly senderLateMs: number
  readonly pass: boolean
  readonly repeat: boolean
}

export interface Ladder {
  readonly members: number
  readonly tlsMembers: number
  readonly joinMs: number
  readonly steps: LadderStep[]
  /** Highest total send rate (messages/s) that passed; 0 when even the first step failed. */
  readonly knee: number
  readonly firstFailure?: number
}

/** Starts `kind`, joins (a)'s members, climbs the ladder and stops it again. */
export async function ladderWorkload(
  rig: Rig,
  kind: Kind,
  tlsEvery: number | undefined,
  label: string,
  messageBytes = MESSAGE_BYTES,
  shared?: SharedRoom,
): Promise<Ladder> {
  const processes = await startLadder(rig, kind, label, { messageBytes, shared })
  try {
    const members = rig.config.ladder.clients
    const joinMs = await joinMembers(processes, members, kind === 'product' ? tlsEvery : undefined)
    log(`${processes.name}: ${members} members joined in ${fmt(joinMs)} ms`)
    await settle(processes, 30_000)
    const tls = kind === 'product' && tlsEvery ? Math.floor(members / tlsEvery) : 0
    return await runLadder(rig, processes, members, tls, joinMs)
  } finally {
    await processes.stop()
  }
}

/** Starts `kind` with the ladder's load clients, each holding a share of the members. */
export function startLadder(
  rig: Rig,
  kind: Kind,
  label: string,
  options: StartOptions = {},
): Promise<Processes> {
  const clients = rig.ladderClients
  return rig.start(kind, clients, label, { ...options, memberClients: clients })
}

async function runLadder(
  rig: Rig,
  processes: Processes,
  members: number,
  tlsMembers: number,
  joinMs: number,
): Promise<Ladder> {
  const { ladder } = rig.config
  const steps: LadderStep[] = []
  const step = (rate: number, repeat: boolean) => ladderStep(rig, processes, members, rate, repeat)
  // Warm-up, not reported: the JIT and the allocator settle before the first measured step.
  await step(ladder.start / 2, false)
  // A failure is run again when failures are confirmed, or when the machine took part in it
  // (other programs, or a stall it held a process through: measure.ts); at most three runs a rate.
  const confirmed = async (rate: number): Promise<boolean> => {
    let last = await step(rate, false)
    steps.push(last)
    for (let runs = 1; !last.pass && runs < MAX_RUNS_A_RATE; runs += 1) {
      const machine = last.cpu.otherPct >= NOISY_OTHER_PCT || machineStalled(last.cpu)
      if (!machine && (runs > 1 || !ladder.confirmFailures)) break
      last = await step(rate, true)
      steps.push(last)
    }
    return last.pass
  }
  let knee = 0
  let failure: number | undefined
  const { fixedRates } = rig.settings
  if (fixedRates) {
    for (const rate of fixedRates) steps.push(await step(rate, false))
    const passed = steps.filter((each) => each.pass).map((each) => each.rate)
    return { members, tlsMembers, joinMs, steps, knee: Math.max(0, ...passed) }
  }
  for (let rate = ladder.start; rate <= ladder.max; ) {
    if (await confirmed(rate)) knee = rate
    else {
      failure = rate
      break
    }
    rate = Math.round((rate * ladder.factor) / 100) * 100
  }
  for (let index = 0; index < ladder.bisections && failure !== undefined; index += 1) {
    const middle = Math.round(((knee || failure / 2) + failure) / 2 / 100) * 100
    if (middle <= knee || middle >= failure) break
    if (await confirmed(middle)) knee = middle
    else failure = middle
  }
  return { members, tlsMembers, joinMs, steps, knee, firstFailure: failure }
}

export async function ladderStep(
  rig: Rig,
  processes: Processes,
  members: number,
  rate: number,
  repeat: boolean,
): Promise<LadderStep> {
  const { stepMs, drainMs } = rig.config.ladder
  const step = rig.nextStep()
  await armMembers(processes, step, members)
  const { value, cpu } = await measured(processes, () =>
    sendShares(processes, { step, members, rate, durationMs: stepMs, drainMs }),
  )
  const seconds = stepMs / 1000
  const { sent, lateMs, collected } = value
  const lost = collected.expected - collected.delivered
  const latency = latencyOf(collected.parts)
  const result: LadderStep = {
    rate,
    sentPerSecond: sent / seconds,
    deliveredPerSecond: collected.delivered / seconds,
    expectedPerSecond: collected.expected / seconds,
    lost,
    gaps: collected.gaps,
    outOfOrder: collected.outOfOrder,
    closed: collected.closed,
    latency,
    cpu,
    serverRssBytes: processes.servers.reduce((sum, server) => sum + rssBytes(server.pid), 0),
    senderLateMs: lateMs,
    pass: lost === 0 && latency.p99Ms <= KNEE_P99_MS,
    repeat,
  }
  const redis = processes.redisPid === undefined ? '' : `Redis ${fmt(cpu.redisPct)} %, `
  log(
    `${processes.name} ${rate} msg/s: p99 ${fmt(latency.p99Ms)} ms, lost ${lost}, server ${serverCpuText(cpu)} %, ` +
      `${redis}client ${fmt(cpu.clientPct)} %, other ${fmt(cpu.otherPct)} %, stalls ${fmt(cpu.serverStallMs)}/` +
      `${fmt(cpu.clientStallMs)} ms${machineStalled(cpu) ? ' (the machine held one)' : ''} → ` +
      `${result.pass ? 'pass' : 'FAIL'}`,
  )
  await settle(processes, 10_000)
  return result
}

/** Arms every member client for `step`: each receiver counts the frames of all `members`. */
export async function armMembers(processes: Processes, step: number, members: number) {
  const clients = processes.memberClients
  if (clients.length === 0) throw new Error('no load client holds members')
  await Promise.all(
    clients.map((client) => client.request({ type: 'arm', step, senders: members })),
  )
}

type Collected = Extract<ClientReply, { type: 'collected' }>

/**
 * Each member client sends its members' share of `rate` for `durationMs`, then every receiver
 * (on any client) waits for all of it; the counts are summed over the clients.
 */
export async function sendShares(
  processes: Processes,
  load: { step: number; members: number; rate: number; durationMs: number; drainMs: number },
) {
  const { step, members, rate, durationMs, drainMs } = load
  const clients = processes.memberClients
  const sent = await Promise.all(
    clients.map(async (client, index) => {
      const { from, to } = memberShare(index, clients.length, members)
      const share = (rate * (to - from)) / members
      return expectReply(
        await client.request({ type: 'send', step, rate: share, durationMs }),
        'sent',
      )
    }),
  )
  const expectedPerReceiver = sent.reduce((sum, each) => sum + each.sent, 0)
  const parts = await Promise.all(
    clients.map(async (client) => {
      const reply = await client.request({
        type: 'collect',
        step,
        expectedPerReceiver,
        timeoutMs: drainMs,
      })
      return expectReply(reply, 'collected')
    }),
  )
  const total = (count: (part: Collected) => number) =>
    parts.reduce((sum, part) => sum + count(part), 0)
  return {
    sent: expectedPerReceiver,
    lateMs: Math.max(...sent.map((each) => each.lateMs)),
    collected: {
      parts,
      delivered: total((part) => part.delivered),
      expected: total((part) => part.expected),
      gaps: total((part) => part.gaps),
      outOfOrder: total((part) => part.outOfOrder),
      closed: total((part) => part.closed),
    },
  }
}

/** The passing step at the knee (the last, if the rate ran more than once). */
export function kneeStep(ladder: Ladder): LadderStep | undefined {
  return ladder.steps.filter((step) => step.pass && step.rate === ladder.knee).at(-1)
}

export function kneeText(rig: Rig, ladder: Ladder): string {
  if (ladder.knee === 0) return `below ${fmt(rig.config.ladder.start)} msg/s`
  const above = ladder.firstFailure === undefined ? ' (never failed: the ladder ended)' : ''
  return `${fmt(ladder.knee)} msg/s = ${fmt(ladder.knee * ladder.members)} deliveries/s${above}`
}

/** Every step of these ladders, one row each; the Redis column only for (r). */
export function stepsTable(
  rig: Rig,
  ladders: ReadonlyArray<readonly [string, Ladder]>,
  withRedis = false,
): string {
  const stepSeconds = rig.config.ladder.stepMs / 1000
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
          : `${fmt(step.lost)} (${((step.lost / step.expectedPerSecond / stepSeconds) * 100).toFixed(1)} %)`,
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
        `${step.pass ? 'pass' : 'fail'}${bound(step.cpu, rig.clientCoreCount)}`,
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
