// (a) and (b): the open-loop ladder, product against reference, over WebSocket and half on raw TLS.
import { ACCOUNTED_STALL_MS } from '../lag.ts'
import { settle } from '../measure.ts'
import { fmt, ratio, table } from '../report.ts'
import { joinMembers, type Rig, type Section, type Workload } from '../rig.ts'
import { KNEE_P99_MS, MESSAGE_BYTES, NOISY_OTHER_PCT } from '../settings.ts'
import {
  kneeText,
  type Ladder,
  type LadderStep,
  ladderWorkload,
  startLadder,
  stepsTable,
} from './ladder.ts'
import {
  CPU_RATIO_TARGET,
  type PairedCpu,
  pairedCpu,
  pairedTable,
  pairedVerdict,
  ratesBelow,
} from './paired-cpu.ts'

/** Issue 18: bytes a delivered 64-byte text may take, and the knee's ratio to the same-bytes relay. */
const WIRE_BYTES_TARGET = 360
const KNEE_RATIO_TARGET = 0.9

/** The reference's ladder with messages of another size. */
export interface SizedLadder {
  readonly bytes: number
  readonly ladder: Ladder
}

export interface OpenLoop {
  a?: { reference: Ladder; product: Ladder; referenceSized: SizedLadder[]; paired?: PairedCpu }
  b?: { reference: Ladder; product: Ladder; paired?: PairedCpu }
}

export const openLoop: Workload<OpenLoop> = {
  ids: ['a', 'b'],
  async run(rig) {
    const { only, sameBytes, referenceBytes } = rig.settings
    const results: OpenLoop = {}
    // (b) compares with (a)'s reference: the reference has no raw TLS to put half its clients on.
    const reference = await rig.workload('a/b reference', () =>
      ladderWorkload(rig, 'reference', undefined, 'a'),
    )
    if (only.has('a')) {
      const product = await rig.workload('a product', () =>
        ladderWorkload(rig, 'product', undefined, 'a'),
      )
      results.a = { reference, product, referenceSized: [] }
      // The bare relay moving the product's bytes: what part of the gap the frame size explains.
      const sizes = [...(sameBytes ? [rig.deliveredFrameBytes] : []), ...referenceBytes]
      for (const bytes of sizes) {
        const ladder = await rig.workload(`a reference, ${bytes}-byte messages`, () =>
          ladderWorkload(rig, 'reference', undefined, 'a', bytes),
        )
        results.a.referenceSized.push({ bytes, ladder })
      }
    }
    if (only.has('b')) {
      const product = await rig.workload('b product', () => ladderWorkload(rig, 'product', 2, 'b'))
      results.b = { reference, product }
    }
    if (sameBytes) await rig.workload('a/b paired CPU', () => pairAll(rig, results))
    return results
  },
  report(rig, results) {
    const markdown: string[] = []
    const targets: Array<readonly string[]> = []
    const sizedRuns = results.a?.referenceSized ?? []
    for (const id of ['a', 'b'] as const) {
      const pair = results[id]
      if (!pair) continue
      const part = pairReport(rig, id, pair, id === 'a' ? sizedRuns : [])
      markdown.push(...part.markdown)
      // Both compare with the bare relay moving the product's bytes, run once, over WebSocket.
      const sameBytes = sizedRuns.find(({ bytes }) => bytes === rig.deliveredFrameBytes)?.ladder
      targets.push(...sameBytesTargets(id, pair.product, sameBytes, pair.paired))
    }
    if (results.a) targets.unshift(wireBytesTarget(rig))
    return { markdown, targets }
  },
}

/**
 * The paired CPU rounds of (a) and (b) against one relay moving the product's bytes, at three
 * rates below both knees (or the rates `--rates` gave).
 */
async function pairAll(rig: Rig, results: OpenLoop): Promise<void> {
  const sized = results.a?.referenceSized.find(({ bytes }) => bytes === rig.deliveredFrameBytes)
  const bytes = rig.deliveredFrameBytes
  const reference = await startLadder(rig, 'reference', 'paired reference', { messageBytes: bytes })
  try {
    await joinMembers(reference, rig.config.ladder.clients)
    await settle(reference, 30_000)
    for (const [id, tlsEvery] of [
      ['a', undefined],
      ['b', 2],
    ] as const) {
      const pair = results[id]
      if (!pair) continue
      const relayKnee = sized?.ladder.knee ?? pair.reference.knee
      const rates = rig.settings.fixedRates ?? ratesBelow(Math.min(pair.product.knee, relayKnee))
      const product = await startLadder(rig, 'product', `${id} paired`)
      try {
        pair.paired = await pairedCpu(rig, product, reference, tlsEvery, rates)
      } finally {
        await product.stop()
      }
    }
  } finally {
    await reference.stop()
  }
}

/** Where the members ran, when not all in one load client. */
function spread(rig: Rig): string {
  return rig.ladderClients > 1 ? ` in ${rig.ladderClients} load-client processes` : ''
}

function pairReport(
  rig: Rig,
  id: 'a' | 'b',
  pair: { reference: Ladder; product: Ladder; paired?: PairedCpu },
  sized: readonly SizedLadder[],
): Section {
  const title =
    id === 'a'
      ? `(a) open-loop ladder, ${pair.product.members} WebSocket clients${spread(rig)}`
      : `(b) open-loop ladder, ${pair.product.tlsMembers} of ${pair.product.members} product clients on raw TLS${spread(rig)} (reference: WebSocket only, the run of (a))`
  const refKnee = pair.reference.knee
  const prodKnee = pair.product.knee
  const sizedText = sized
    .map(
      ({ bytes, ladder }) =>
        ` The reference relaying ${bytes}-byte messages` +
        (bytes === rig.deliveredFrameBytes ? " (the size of the product's delivered frame)" : '') +
        `: ${kneeText(rig, ladder)}, ${ratio(ladder.knee, refKnee)} of its knee with ` +
        `${MESSAGE_BYTES}-byte ones → product ${ratio(prodKnee, ladder.knee)} of it.`,
    )
    .join('')
  return {
    markdown: [
      '',
      `### ${title}`,
      '',
      ladderTable(rig, pair.reference, pair.product, sized),
      '',
      `Knee (p99 ≤ ${KNEE_P99_MS} ms, no loss): reference ${kneeText(rig, pair.reference)}, product ` +
        `${kneeText(rig, pair.product)} → ${ratio(prodKnee, refKnee)}. Product members joined the MLS ` +
        `group in ${fmt(pair.product.joinMs)} ms. ${retryRule(rig)}${sizedText}`,
      ...(pair.paired ? pairedSection(rig, pair.paired) : []),
    ],
    targets: [],
  }
}

/** How ladder.ts runs a failed step again. */
function retryRule(rig: Rig): string {
  const machine =
    `the machine took part in the failure (other programs over ${NOISY_OTHER_PCT} % of a core, ` +
    `or a process the machine held off its core through a stall of over ${ACCOUNTED_STALL_MS} ms)`
  return rig.config.ladder.confirmFailures
    ? `A failed step runs again, and a third time when ${machine}; the last run counts.`
    : `A failed step runs again, up to three runs, when ${machine}; the last run counts.`
}

function pairedSection(rig: Rig, paired: PairedCpu): string[] {
  return [
    '',
    `Server CPU per delivery, paired: the product and the bare relay moving ${fmt(rig.deliveredFrameBytes)}-byte ` +
      `messages (the product's frame) stay up side by side and take turns at each rate, ` +
      `${rig.config.pairedRounds} rounds, who goes first swapping; the target reads the median ratio.`,
    '',
    pairedTable(paired),
  ]
}

/** Issue 18's targets: what a 64-byte text costs on the wire. */
function wireBytesTarget(rig: Rig): readonly string[] {
  return [
    'wire bytes per 64-byte text',
    fmt(MESSAGE_BYTES),
    `${fmt(rig.deliveredFrameBytes)} (frame; +4 framing)`,
    ratio(rig.deliveredFrameBytes, MESSAGE_BYTES),
    `≤ ${WIRE_BYTES_TARGET}`,
    rig.deliveredFrameBytes <= WIRE_BYTES_TARGET ? 'met' : 'MISSED',
  ]
}

/**
 * Issue 18's targets against the relay moving the same bytes: server CPU per delivery from the
 * paired rounds (the worst median of the three rates counts), and the knee from the ladders.
 */
function sameBytesTargets(
  id: 'a' | 'b',
  product: Ladder,
  reference: Ladder | undefined,
  paired: PairedCpu | undefined,
): Array<readonly string[]> {
  const cpuRow = `server CPU per delivery ÷ same-bytes reference (${id})`
  const kneeRow = `knee ÷ same-bytes reference (${id})`
  const skipped = ['–', '–', '–', 'skipped: run without --same-bytes', '–']
  const verdict = paired && pairedVerdict(paired)
  const cpu = verdict
    ? [
        cpuRow,
        '1.00×',
        `${fmt(verdict.worst)}× (medians: ${verdict.text} msg/s)`,
        '–',
        `≤ ${CPU_RATIO_TARGET}× at three rates below the knee`,
        verdict.met ? 'met' : 'MISSED',
      ]
    : [cpuRow, ...skipped]
  if (!reference) return [cpu, [kneeRow, ...skipped]]
  const kneeRatio = product.knee / reference.knee
  return [
    cpu,
    [
      kneeRow,
      fmt(reference.knee * reference.members),
      fmt(product.knee * product.members),
      ratio(product.knee, reference.knee),
      `≥ ${KNEE_RATIO_TARGET}×`,
      reference.knee > 0 && kneeRatio >= KNEE_RATIO_TARGET ? 'met' : 'MISSED',
    ],
  ]
}

function ladderTable(
  rig: Rig,
  reference: Ladder,
  product: Ladder,
  sized: readonly SizedLadder[],
): string {
  const ladders: Array<[string, Ladder]> = [
    ['reference', reference],
    ['product', product],
    ...sized.map(({ bytes, ladder }): [string, Ladder] => [
      `reference, ${bytes}-byte messages`,
      ladder,
    ]),
  ]
  const main = stepsTable(rig, ladders)
  // Rates both ladders ran: each product figure as a ratio to the reference's at the same rate.
  const byRate = new Map(reference.steps.filter((s) => !s.repeat).map((s) => [s.rate, s]))
  const paired = product.steps.flatMap((step) => {
    const ref = byRate.get(step.rate)
    return step.repeat || !ref ? [] : [pairedRow(step, ref)]
  })
  const ratios = table(
    ['msg/s', 'delivered/s', 'p50', 'p99', 'p99.9', 'server CPU', 'client CPU', 'server RSS'],
    paired,
  )
  return `${main}\n\nProduct ÷ reference at the same rate:\n\n${ratios}`
}

function pairedRow(step: LadderStep, ref: LadderStep): string[] {
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
}
