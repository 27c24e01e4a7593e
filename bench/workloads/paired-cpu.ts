// Issue 18's CPU target judged on paired steps: the product and the bare relay moving the product's
// bytes both stay up, and at each rate they take turns, several rounds, who goes first swapping
// each round; the verdict is the median of each round's ratio. One ladder each, minutes apart, did
// not do: the relay's own CPU at one rate moved from run to run (36–65 % of a core at 2,000 msg/s)
// by more than the gap being judged, as it depends on how many messages happen to share a turn.

import { settle } from '../measure.ts'
import { fmt, median, table } from '../report.ts'
import { joinMembers, log, type Processes, type Rig } from '../rig.ts'
import { type LadderStep, ladderStep } from './ladder.ts'

export const CPU_RATIO_TARGET = 1.05

/** One round at one rate: the product's step and the relay's, next to each other in time. */
export interface PairedRound {
  readonly rate: number
  readonly productFirst: boolean
  readonly product: LadderStep
  readonly reference: LadderStep
  /** Server CPU per delivery, product ÷ relay. */
  readonly ratio: number
}

export interface PairedRate {
  readonly rate: number
  /** The median of the rounds' ratios. */
  readonly ratio: number
}

export interface PairedCpu {
  readonly rounds: PairedRound[]
  readonly rates: PairedRate[]
}

/** Three rates below the lower of two knees: a quarter, a half and three quarters of it. */
export function ratesBelow(knee: number): number[] {
  const rounded = (fraction: number) => Math.max(100, Math.round((knee * fraction) / 100) * 100)
  return [...new Set([0.25, 0.5, 0.75].map(rounded))]
}

/**
 * Runs the paired rounds of `product` (already started, members not yet joined) against
 * `reference` (started with the product's frame size, members joined).
 */
export async function pairedCpu(
  rig: Rig,
  product: Processes,
  reference: Processes,
  tlsEvery: number | undefined,
  rates: readonly number[],
): Promise<PairedCpu> {
  const members = rig.config.ladder.clients
  await joinMembers(product, members, tlsEvery)
  await settle(product, 30_000)
  const rounds: PairedRound[] = []
  const { pairedRounds } = rig.config
  // A warm-up for each, not counted: the JIT and the allocator settle first.
  await ladderStep(rig, product, members, rates[0] ?? 100, false)
  await ladderStep(rig, reference, members, rates[0] ?? 100, false)
  for (let round = 0; round < pairedRounds; round += 1) {
    for (const [index, rate] of rates.entries()) {
      const productFirst = (round + index) % 2 === 0
      const step = (processes: Processes) => ladderStep(rig, processes, members, rate, false)
      const earlier = await step(productFirst ? product : reference)
      const later = await step(productFirst ? reference : product)
      const [productStep, referenceStep] = productFirst ? [earlier, later] : [later, earlier]
      const ratio = perDelivery(productStep) / perDelivery(referenceStep)
      rounds.push({ rate, productFirst, product: productStep, reference: referenceStep, ratio })
      log(`paired ${fmt(rate)} msg/s, round ${round + 1}: product ÷ relay ${fmt(ratio)}×`)
    }
  }
  return { rounds, rates: rates.map((rate) => summarize(rate, rounds)) }
}

function perDelivery(step: LadderStep): number {
  return step.cpu.serverPct / Math.max(step.deliveredPerSecond, 1)
}

function summarize(rate: number, rounds: readonly PairedRound[]): PairedRate {
  const at = rounds.filter((round) => round.rate === rate)
  return { rate, ratio: median(at.map((round) => round.ratio)) }
}

/** Every round, and the medians the verdict is read from. */
export function pairedTable(paired: PairedCpu): string {
  const rows = paired.rates.map((each) => {
    const at = paired.rounds.filter((round) => round.rate === each.rate)
    return [
      fmt(each.rate),
      at
        .map((round) => `${fmt(round.product.cpu.serverPct)}/${fmt(round.reference.cpu.serverPct)}`)
        .join(', '),
      at.map((round) => `${fmt(round.ratio)}×`).join(', '),
      `${fmt(each.ratio)}×`,
      at.some((round) => !round.product.pass || !round.reference.pass) ? 'a step failed' : '',
    ]
  })
  return table(
    [
      'msg/s',
      'server CPU % product/relay, each round',
      'per-delivery ratio, each round',
      'median',
      'note',
    ],
    rows,
  )
}

/** The verdict: the median ratio at every rate within the target. */
export function pairedVerdict(paired: PairedCpu): { worst: number; met: boolean; text: string } {
  const worst = Math.max(...paired.rates.map((each) => each.ratio))
  const text = paired.rates.map((each) => `${fmt(each.ratio)}× at ${fmt(each.rate)}`).join(', ')
  return { worst, met: paired.rates.length >= 3 && worst <= CPU_RATIO_TARGET, text }
}
