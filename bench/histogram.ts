// Latency histograms for the bench: log-linear buckets in microseconds (≤ 0.8 % error), cheap to
// record in the hot path and small to ship between processes as sparse pairs.

/** Below this every microsecond has its own bucket; above it, 128 buckets per power of two. */
const LINEAR = 256
const SUB_BUCKETS = 128
const SUB_SHIFT = 7
/** Covers up to 2^38 µs (76 hours): anything later is clamped into the last bucket. */
const BUCKETS = LINEAR + 31 * SUB_BUCKETS

export interface Histogram {
  readonly counts: Float64Array
  count: number
  max: number
}

export type SparseHistogram = Array<[index: number, count: number]>

export function createHistogram(): Histogram {
  return { counts: new Float64Array(BUCKETS), count: 0, max: 0 }
}

function bucketOf(micros: number): number {
  const value = micros < 0 ? 0 : Math.floor(micros)
  if (value < LINEAR) return value
  const exponent = 31 - Math.clz32(value) - SUB_SHIFT
  if (exponent > 31) return BUCKETS - 1
  return Math.min(
    BUCKETS - 1,
    LINEAR + (exponent - 1) * SUB_BUCKETS + ((value >>> exponent) - SUB_BUCKETS),
  )
}

/** The smallest value that lands in a bucket: percentiles are quoted at it, never above. */
function lowerBoundOf(index: number): number {
  if (index < LINEAR) return index
  const exponent = Math.floor((index - LINEAR) / SUB_BUCKETS) + 1
  return ((index - LINEAR) % SUB_BUCKETS) * 2 ** exponent + SUB_BUCKETS * 2 ** exponent
}

export function record(histogram: Histogram, micros: number): void {
  // Values past 2^31 µs (36 minutes) would break clz32; a bench never waits that long.
  const clamped = Math.min(micros, 2_000_000_000)
  const index = bucketOf(clamped)
  histogram.counts[index] = (histogram.counts[index] as number) + 1
  histogram.count += 1
  if (clamped > histogram.max) histogram.max = clamped
}

export function toSparse(histogram: Histogram): SparseHistogram {
  const pairs: Array<[number, number]> = []
  histogram.counts.forEach((count, index) => {
    if (count > 0) pairs.push([index, count])
  })
  return pairs
}

export function mergeSparse(into: Histogram, sparse: SparseHistogram, max: number): void {
  for (const [index, count] of sparse) {
    into.counts[index] = (into.counts[index] as number) + count
    into.count += count
  }
  if (max > into.max) into.max = max
}

/** The value at quantile `q` (0..1) in microseconds; NaN for an empty histogram. */
export function quantile(histogram: Histogram, q: number): number {
  if (histogram.count === 0) return Number.NaN
  const rank = Math.max(1, Math.ceil(q * histogram.count))
  let seen = 0
  for (let index = 0; index < histogram.counts.length; index += 1) {
    seen += histogram.counts[index] as number
    if (seen >= rank) return Math.min(lowerBoundOf(index), histogram.max)
  }
  return histogram.max
}
