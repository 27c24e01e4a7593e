// Turns measured steps into the bench's Markdown tables; figures only, no measuring here.
import {
  createHistogram,
  type Histogram,
  mergeSparse,
  quantile,
  type SparseHistogram,
} from './histogram.ts'
import type { AccountedStall } from './lag.ts'

export interface Latency {
  readonly p50Ms: number
  readonly p99Ms: number
  readonly p999Ms: number
  readonly maxMs: number
  readonly samples: number
}

export function latencyOf(
  parts: ReadonlyArray<{ histogram: SparseHistogram; max: number }>,
): Latency {
  const merged: Histogram = createHistogram()
  for (const part of parts) mergeSparse(merged, part.histogram, part.max)
  return {
    p50Ms: quantile(merged, 0.5) / 1000,
    p99Ms: quantile(merged, 0.99) / 1000,
    p999Ms: quantile(merged, 0.999) / 1000,
    maxMs: merged.max / 1000,
    samples: merged.count,
  }
}

/** CPU in % of one core over a step; other = what ran on the machine besides the bench. */
export interface CpuShare {
  /** Every server process together; several only in (r), where instances share one room. */
  readonly serverPct: number
  /** Each server process apart, in the order they started. */
  readonly perServerPct: readonly number[]
  /** Redis, when the servers share one (0 otherwise): the product's work, not other programs'. */
  readonly redisPct: number
  readonly clientPct: number
  readonly otherPct: number
  readonly wallMs: number
  /** The measured window in wall-clock ms, to cut a server CPU profile to it. */
  readonly startedAtMs: number
  readonly endedAtMs: number
  /** The longest each side's event loop was held up during the step. */
  readonly serverStallMs: number
  readonly clientStallMs: number
  /** The first server's stalls over each of lag.ts's STALL_BOUNDS_MS during the step. */
  readonly serverStallsOver: readonly number[]
  /** When the first server's worst stall of the step ended (wall-clock ms). */
  readonly serverWorstStallAtMs: number
  /** The first server's stalls over lag.ts's ACCOUNTED_STALL_MS, with where their time went. */
  readonly serverStalls: readonly AccountedStall[]
  /** Every load client's, the same way. */
  readonly clientStalls: readonly AccountedStall[]
}

export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const align = headers.map((header, index) =>
    index === 0 || /^(target|pass|met|workload|figure)/i.test(header) ? '---' : '---:',
  )
  return [
    `| ${headers.join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n')
}

/** Significant figures that read well in a table: 1234567 → 1,234,567; 0.01234 → 0.0123. */
export function fmt(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '–'
  const magnitude = Math.abs(value)
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US')
  if (magnitude === 0) return '0'
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(magnitude)))
  return value.toFixed(Math.min(decimals, 4))
}

/** The median of some figures: the machine is shared, one run is noise. NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  if (sorted.length === 0) return Number.NaN
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

export function ratio(product: number, reference: number): string {
  if (!Number.isFinite(product) || !Number.isFinite(reference) || reference === 0) return '–'
  return `${(product / reference).toFixed(2)}×`
}

export function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}
