// (d) and (e): a crowd of idle connections (to open, join and keep), then one sender into it.
import { bound, measured, quietest, settle } from '../measure.ts'
import { rssBytes } from '../proc.ts'
import { type CpuShare, fmt, type Latency, latencyOf, ratio, table } from '../report.ts'
import { expectReply, joinMembers, log, type Processes, type Rig, type Workload } from '../rig.ts'
import type { Kind } from '../settings.ts'

export interface Crowd {
  readonly connections: number
  /** The relay's message size when not its default (64 bytes). */
  readonly messageBytes?: number
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

/**
 * (d) and (e) are one run: the room (e) sends into is the crowd (d) opened. The relay's crowd then
 * runs again with messages as large as the product's delivered frame (`sameBytes`, as for the
 * ladders), to show what part of (e)'s gap the bytes explain.
 */
export const crowd: Workload<{
  d: { reference: Crowd; product: Crowd; referenceSameBytes?: Crowd }
}> = {
  ids: ['d', 'e'],
  async run(rig) {
    const reference = await rig.workload('d/e reference', () => crowdWorkload(rig, 'reference'))
    const product = await rig.workload('d/e product', () => crowdWorkload(rig, 'product'))
    const bytes = rig.deliveredFrameBytes
    const referenceSameBytes = rig.settings.sameBytes
      ? await rig.workload(`d/e reference, ${bytes}-byte messages`, () =>
          crowdWorkload(rig, 'reference', bytes),
        )
      : undefined
    return { d: { reference, product, ...(referenceSameBytes ? { referenceSameBytes } : {}) } }
  },
  report(rig, { d: { reference, product, referenceSameBytes } }) {
    const row = (name: string, value: (c: Crowd) => number | undefined) => {
      const ref = value(reference) ?? Number.NaN
      const prod = value(product) ?? Number.NaN
      return [name, fmt(ref), fmt(prod), ratio(prod, ref)]
    }
    const headers = ['figure', 'reference', 'product', 'product / reference']
    const target = (met: boolean) => (met ? 'met' : 'MISSED')
    const idle = table(headers, [
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
    ])
    const fanout = table(headers, [
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
    ])
    const size = fmt(product.connections)
    return {
      markdown: [
        '',
        `### (d) ${size} idle connections (WebSocket; product: authenticated)`,
        '',
        idle,
        '',
        `### (e) one sender into a room of ${size}`,
        '',
        fanout,
        ...(referenceSameBytes ? ['', sameBytesFanout(rig, referenceSameBytes, product)] : []),
      ],
      targets: [
        joinsTarget(product),
        [
          '(d) server memory per idle member, bytes',
          ...pair(reference.bytesPerConnection, product.bytesPerConnection),
          '≤ 10,240',
          // Over 1,000 members the allocator's steps of a few MB are several KB a member: quick
          // runs put the product at 7.2–10.7 KB (9.5–10.7 on one commit), full ones at 7.7–8.3.
          product.connections >= 10_000
            ? target(product.bytesPerConnection <= 10_240)
            : `skipped at ${fmt(product.connections)} members (--full or --connections 10000)`,
        ],
        [
          '(d) TLS handshakes/s',
          ...pair(reference.handshakesPerSecond, product.handshakesPerSecond),
          '≥ 3,000',
          `${target(product.handshakesPerSecond >= 3000)}${bound(product.handshakeCpu, rig.clientCoreCount)}`,
        ],
        [
          '(d) handshakes per server CPU-second',
          ...pair(serverCapacity(reference), serverCapacity(product)),
          '(server capacity on one core)',
          '–',
        ],
        fanoutTarget(product, referenceSameBytes ?? reference),
      ],
    }
  },
}

/**
 * Issue 18: within 150 ms, or of the reference's own p99 in the same run (its noise). The
 * reference judged by is the relay moving the product's bytes, as for the CPU and knee targets;
 * the 64-byte relay's p99 is in the table above.
 */
function fanoutTarget(product: Crowd, reference: Crowd): readonly string[] {
  const p99 = product.fanout.latency.p99Ms
  const referenceP99 = reference.fanout.latency.p99Ms
  const sameBytes = reference.messageBytes !== undefined
  return [
    `(e) fan-out p99, ms${sameBytes ? ' (reference: same bytes)' : ''}`,
    ...pair(referenceP99, p99),
    `≤ 150, or ≤ 1.1× the ${sameBytes ? 'same-bytes ' : ''}reference`,
    (p99 <= 150 || p99 <= 1.1 * referenceP99) &&
    product.fanout.delivered === product.fanout.expected
      ? 'met'
      : 'MISSED',
  ]
}

/** The relay's fan-out with the product's bytes, beside the product's. */
function sameBytesFanout(rig: Rig, relay: Crowd, product: Crowd): string {
  const { latency } = relay.fanout
  const lost = relay.fanout.expected - relay.fanout.delivered
  return (
    `The reference with ${fmt(rig.deliveredFrameBytes)}-byte messages (the product's frame), ` +
    `run after: p50 ${fmt(latency.p50Ms)} ms, p99 ${fmt(latency.p99Ms)} ms ` +
    `(product ${ratio(product.fanout.latency.p99Ms, latency.p99Ms)} of it), lost ${fmt(lost)}, ` +
    `server CPU ${fmt(relay.fanout.cpu.serverPct)} %, client CPU ${fmt(relay.fanout.cpu.clientPct)} %.`
  )
}

/** Issue 18: joins at 10,000 members; a smaller crowd (quick mode) shows its rate, unjudged. */
function joinsTarget(product: Crowd): readonly string[] {
  const joins = product.joinsPerSecond ?? Number.NaN
  const full = product.connections >= 10_000
  return [
    'joins per second at 10,000 members',
    '–',
    full ? fmt(joins) : `${fmt(joins)} at ${fmt(product.connections)} members`,
    '–',
    '≥ 1,000',
    full
      ? joins >= 1000
        ? 'met'
        : 'MISSED'
      : 'skipped in quick mode (--full or --connections 10000)',
  ]
}

/** A figure's reference, product and ratio columns. */
function pair(reference: number, product: number): string[] {
  return [fmt(reference), fmt(product), ratio(product, reference)]
}

/** Handshakes the server could take on one core, from its CPU time per handshake. */
function serverCapacity(crowd: Crowd): number {
  const serverSeconds = (crowd.handshakeCpu.serverPct / 100) * (crowd.handshakeCpu.wallMs / 1000)
  return crowd.opened / serverSeconds
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

async function crowdWorkload(rig: Rig, kind: Kind, messageBytes?: number): Promise<Crowd> {
  const { connections, processes: clientCount, concurrency, messages } = rig.config.crowd
  const processes = await rig.start(kind, clientCount, 'de', messageBytes ? { messageBytes } : {})
  try {
    const { clients, server } = processes
    await joinMembers(processes, 1)
    await settle(processes, 10_000)
    const before = await server.gc()
    const rssBeforeBytes = rssBytes(server.pid)

    // The sender is one member; the others are idle, shared between the client processes.
    const idle = connections - 1
    const open = await measured(processes, () =>
      Promise.all(
        clients.map((client, index) =>
          client.request({
            type: 'open-idle',
            count: Math.floor(idle / clientCount) + (index < idle % clientCount ? 1 : 0),
            prefix: `idle${index}n`,
            concurrency,
          }),
        ),
      ),
    )
    const openReplies = open.value.map((reply) => expectReply(reply, 'opened'))
    const opened = openReplies.reduce((sum, reply) => sum + reply.opened, 0)
    const failed = openReplies.reduce((sum, reply) => sum + reply.failed, 0)
    const handshakesPerSecond = opened / (open.cpu.wallMs / 1000)
    log(
      `${kind}: ${opened} connections open (${failed} failed), ${fmt(handshakesPerSecond)} handshakes/s`,
    )
    await settle(processes, 30_000)
    await server.gc()
    const rssOpenBytes = rssBytes(server.pid)

    let joinsPerSecond: number | undefined
    let joinCpu: CpuShare | undefined
    if (kind === 'product') {
      const auth = await measured(processes, () =>
        Promise.all(clients.map((client) => client.request({ type: 'auth-idle', concurrency }))),
      )
      joinsPerSecond = opened / (auth.cpu.wallMs / 1000)
      joinCpu = auth.cpu
      log(`${kind}: ${opened} joined in ${fmt(auth.cpu.wallMs)} ms, ${fmt(joinsPerSecond)} joins/s`)
      await settle(processes, 600_000)
    }
    const after = await server.gc()
    const rssAfterBytes = rssBytes(server.pid)
    log(`${kind}: live objects per connection, by type: ${perConnection(before, after, opened)}`)

    const fan = await fanOut(rig, processes)
    const fanLatency = latencyOf(fan.value)
    const result: Crowd = {
      connections,
      ...(messageBytes ? { messageBytes } : {}),
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
      heapBytesPerConnection: (after.heapBytes - before.heapBytes) / Math.max(1, opened),
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
    await processes.stop()
  }
}

/** (e): the first client's member sends; every connection of every client collects. */
function fanOut(rig: Rig, processes: Processes) {
  const { messages, rate } = rig.config.crowd
  const first = processes.clients[0]
  const timeoutMs = (messages / rate) * 1000 + 15_000
  return quietest(processes, 'fan-out', async () => {
    const step = rig.nextStep()
    await Promise.all(
      processes.clients.map((client) => client.request({ type: 'arm', step, senders: 1 })),
    )
    return Promise.all(
      processes.clients.map(async (client) => {
        if (client === first) {
          await client.request({ type: 'send', step, rate, count: messages })
        }
        return expectReply(
          await client.request({ type: 'collect', step, expectedPerReceiver: messages, timeoutMs }),
          'collected',
        )
      }),
    )
  })
}
