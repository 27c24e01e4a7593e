// (c): closed-loop bursts, Bun's chat benchmark: every member sends once, all wait for all, again.
import { quietest, settle } from '../measure.ts'
import { rssBytes } from '../proc.ts'
import { type CpuShare, fmt, type Latency, latencyOf, ratio, table } from '../report.ts'
import { expectReply, joinMembers, log, type Rig, type Workload } from '../rig.ts'
import type { Kind } from '../settings.ts'

export interface Bursts {
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

export const bursts: Workload<{ c: { reference: Bursts; product: Bursts } }> = {
  ids: ['c'],
  async run(rig) {
    const reference = await rig.workload('c reference', () => burstWorkload(rig, 'reference'))
    const product = await rig.workload('c product', () => burstWorkload(rig, 'product'))
    return { c: { reference, product } }
  },
  report(_rig, { c: { reference, product } }) {
    const row = (name: string, value: (b: Bursts) => number) => [
      name,
      fmt(value(reference)),
      fmt(value(product)),
      ratio(value(product), value(reference)),
    ]
    return {
      markdown: [
        '',
        `### (c) closed-loop bursts, ${product.clients} WebSocket clients`,
        '',
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
      ],
      targets: [
        [
          '(c) bursts, deliveries/s',
          fmt(reference.deliveriesPerSecond),
          fmt(product.deliveriesPerSecond),
          ratio(product.deliveriesPerSecond, reference.deliveriesPerSecond),
          '–',
          '–',
        ],
      ],
    }
  },
}

async function burstWorkload(rig: Rig, kind: Kind): Promise<Bursts> {
  const processes = await rig.start(kind, 1, 'c')
  try {
    const client = processes.clients[0]
    if (!client) throw new Error('bursts need a load client')
    const clients = rig.config.bursts.clients
    await joinMembers(processes, clients)
    await settle(processes, 30_000)
    await client.request({ type: 'bursts', step: rig.nextStep(), durationMs: 500 })
    const { value, cpu } = await quietest(processes, 'bursts', async () =>
      expectReply(
        await client.request({
          type: 'bursts',
          step: rig.nextStep(),
          durationMs: rig.config.bursts.durationMs,
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
      serverRssBytes: rssBytes(processes.server.pid),
      closed: value.closed,
    }
    log(
      `${kind} bursts: ${fmt(result.roundsPerSecond)} rounds/s, ${fmt(result.deliveriesPerSecond)} deliveries/s`,
    )
    return result
  } finally {
    await processes.stop()
  }
}
