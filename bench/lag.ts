// Event-loop lag: a 5 ms timer that records how late it fires. A stall anywhere in a process (a
// garbage collection, a synchronous fsync) shows up here, so a latency tail can be blamed on the
// server or on the client rather than guessed at. Costs about 200 wake-ups a second.
import { createHistogram, type Histogram, quantile, record } from './histogram.ts'

const PERIOD_MS = 5

/** A stall histogram's bounds: how many times the loop was later than each (the soak's rows). */
export const STALL_BOUNDS_MS = [10, 20, 50, 100, 200] as const

export interface LagMonitor {
  /**
   * Lag since the last call (in ms): p99, p99.9 and the worst, and how many wake-ups came later
   * than each of STALL_BOUNDS_MS, then starts afresh.
   */
  take(): { p99Ms: number; p999Ms: number; maxMs: number; over: number[]; worstAtMs: number }
}

export function startLagMonitor(): LagMonitor {
  let histogram: Histogram = createHistogram()
  let over = STALL_BOUNDS_MS.map(() => 0)
  /** When the worst stall so far ended, in wall-clock ms: a profile is cut around it. */
  let worst = { lateMs: 0, atMs: 0 }
  let expected = performance.now() + PERIOD_MS
  const timer = setInterval(() => {
    const now = performance.now()
    const lateMs = Math.max(0, now - expected)
    record(histogram, lateMs * 1000)
    if (lateMs > worst.lateMs) worst = { lateMs, atMs: Date.now() }
    STALL_BOUNDS_MS.forEach((bound, index) => {
      if (lateMs > bound) over[index] = (over[index] ?? 0) + 1
    })
    expected = now + PERIOD_MS
  }, PERIOD_MS)
  timer.unref()
  return {
    take() {
      const taken = histogram
      const counted = over
      const worstAtMs = worst.atMs
      histogram = createHistogram()
      over = STALL_BOUNDS_MS.map(() => 0)
      worst = { lateMs: 0, atMs: 0 }
      // An empty histogram has no quantiles (NaN), and NaN does not survive IPC's JSON.
      if (taken.count === 0) return { p99Ms: 0, p999Ms: 0, maxMs: 0, over: counted, worstAtMs }
      return {
        p99Ms: quantile(taken, 0.99) / 1000,
        p999Ms: quantile(taken, 0.999) / 1000,
        maxMs: taken.max / 1000,
        over: counted,
        worstAtMs,
      }
    },
  }
}
