// (a) and (b): the open-loop ladder, product against reference, over WebSocket and half on raw TLS.
import { fmt, ratio, table } from '../report.ts'
import type { Rig, Section, Workload } from '../rig.ts'
import { KNEE_P99_MS, MESSAGE_BYTES } from '../settings.ts'
import { kneeText, type Ladder, type LadderStep, ladderWorkload, stepsTable } from './ladder.ts'

/** The reference's ladder with messages of another size. */
export interface SizedLadder {
  readonly bytes: number
  readonly ladder: Ladder
}

export interface OpenLoop {
  a?: { reference: Ladder; product: Ladder; referenceSized: SizedLadder[] }
  b?: { reference: Ladder; product: Ladder }
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
    return results
  },
  report(rig, results) {
    const markdown: string[] = []
    const targets: Array<readonly string[]> = []
    for (const id of ['a', 'b'] as const) {
      const pair = results[id]
      if (!pair) continue
      const sized = id === 'a' ? (results.a?.referenceSized ?? []) : []
      const part = pairReport(rig, id, pair, sized)
      markdown.push(...part.markdown)
      targets.push(...part.targets)
    }
    return { markdown, targets }
  },
}

function pairReport(
  rig: Rig,
  id: 'a' | 'b',
  pair: { reference: Ladder; product: Ladder },
  sized: readonly SizedLadder[],
): Section {
  const title =
    id === 'a'
      ? `(a) open-loop ladder, ${pair.product.members} WebSocket clients`
      : `(b) open-loop ladder, ${pair.product.tlsMembers} of ${pair.product.members} product clients on raw TLS (reference: WebSocket only, the run of (a))`
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
        `group in ${fmt(pair.product.joinMs)} ms.${sizedText}`,
    ],
    targets: [
      [
        `(${id}) knee, deliveries/s`,
        fmt(refKnee * pair.reference.members),
        fmt(prodKnee * pair.product.members),
        ratio(prodKnee, refKnee),
        '≥ 0.80× reference',
        refKnee > 0 && prodKnee >= 0.8 * refKnee ? 'met' : 'MISSED',
      ],
    ],
  }
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
