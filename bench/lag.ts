// Event-loop lag: a 5 ms timer that records how late it fires. A stall anywhere in a process (a
// garbage collection, a synchronous fsync) shows up here, so a latency tail can be blamed on the
// server or on the client rather than guessed at. Costs about 200 wake-ups a second.
//
// Each stall over 20 ms also says where the time went, from the kernel's count for this thread
// (/proc/thread-self/schedstat, ~2.4 µs a read here): running, waiting for a core, or neither.
// Neither is a thread asleep past its timer: blocked in the kernel, or a machine that did not run
// it. On this VM an idle process's 5 ms timer woke 12–57 ms late with 0.1 ms run and no wait.
// Beside it, the CPU time of the process's other threads (its JIT, its allocator's scavenger,
// workers; process.cpuUsage(), ~4 µs a call): waiting for a core that none of them held is
// waiting for something else on the machine. On this VM that was a kernel thread, DAMON's
// kdamond, at times taking 8–15 ms of every 30 on the server's core (docs/performance.md). And the
// process's major page faults (pages read back from disk), from the same getrusage call: this
// VM's DAMON also evicts page cache idle for 60 s, the process's own code among it, so a thread
// asleep in a stall may have been waiting for its code to be read back.
import { openSync, readSync } from 'node:fs'
import { createHistogram, type Histogram, quantile, record } from './histogram.ts'
import type { Lag } from './ipc.ts'

export const PERIOD_MS = 5

/** A stall histogram's bounds: how many times the loop was later than each (the soak's rows). */
export const STALL_BOUNDS_MS = [10, 20, 50, 100, 200] as const

/** Stalls longer than this (the soak's target) are kept one by one, with where their time went. */
export const ACCOUNTED_STALL_MS = STALL_BOUNDS_MS[1]
/**
 * The idle canary keeps its stalls from this much (the smallest bound): it is "late too" beside a
 * server stall when it is late at all. At 20 it missed a moment it shared with the server (18.3
 * ms, 2 ms apart: the soak of 2026-12-02, minute 10).
 */
export const IDLE_ACCOUNTED_STALL_MS = STALL_BOUNDS_MS[0]
/** At most this many a `take()`: past them only the counts grow. */
const MAX_ACCOUNTED = 100

/** A stall with where its time went (ipc.ts's schema): see `take().stalls`. */
export type AccountedStall = Lag['stalls'][number]

/**
 * How much of a stall's window the thread waited for a core while none of its process's other
 * threads ran: something outside the process held the core. At least that much, as the other
 * threads may have run on another core.
 */
export function outsiderHeldMs(stall: AccountedStall): number {
  return Math.max(0, stall.waitedMs - stall.othersRanMs)
}

/** How much of a stall's window the thread slept: neither on a core nor waiting for one. */
export function sleptMs(stall: AccountedStall): number {
  return Math.max(0, PERIOD_MS + stall.lateMs - stall.ranMs - stall.waitedMs)
}

/**
 * Whether the process had nothing on a core for most of a stall: it slept, or something outside
 * it held the core. A process that never blocks on purpose (the servers, the load clients, the
 * idle canary) was then not run by the machine, or held in the kernel.
 */
export function machineHeld(stall: AccountedStall): boolean {
  return sleptMs(stall) + outsiderHeldMs(stall) >= stall.lateMs / 2
}

interface SchedTimes {
  readonly ranMs: number
  readonly waitedMs: number
  /** The whole process's CPU time, every thread's. */
  readonly processMs: number
  /** The whole process's major page faults so far. */
  readonly majorFaults: number
}

/** This thread's time on a core and waiting for one, in ms; undefined off Linux. */
function schedClock(): (() => SchedTimes) | undefined {
  let fd: number
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r')
  } catch {
    return undefined
  }
  const buffer = Buffer.alloc(96)
  return () => {
    const text = buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0))
    const [ran = 0, waited = 0] = text.split(' ').map(Number)
    // One getrusage for both the CPU time and the faults (~1.6 µs, as much as cpuUsage()).
    const usage = process.resourceUsage()
    return {
      ranMs: ran / 1e6,
      waitedMs: waited / 1e6,
      processMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
      majorFaults: usage.majorPageFault,
    }
  }
}

export interface LagMonitor {
  /**
   * Lag since the last call (in ms): p99, p99.9 and the worst, and how many wake-ups came later
   * than each of STALL_BOUNDS_MS, then starts afresh.
   */
  take(): Lag
}

/** `accountOverMs`: stalls longer than this are kept one by one (`take().stalls`). */
export function startLagMonitor(accountOverMs: number = ACCOUNTED_STALL_MS): LagMonitor {
  let histogram: Histogram = createHistogram()
  let over = STALL_BOUNDS_MS.map(() => 0)
  /** When the worst stall so far ended, in wall-clock ms: a profile is cut around it. */
  let worst = { lateMs: 0, atMs: 0 }
  let stalls: AccountedStall[] = []
  const sched = schedClock()
  let previous = sched?.()
  let expected = performance.now() + PERIOD_MS
  const timer = setInterval(() => {
    const now = performance.now()
    const lateMs = Math.max(0, now - expected)
    record(histogram, lateMs * 1000)
    if (lateMs > worst.lateMs) worst = { lateMs, atMs: Date.now() }
    const current = sched?.()
    if (current && previous && lateMs > accountOverMs && stalls.length < MAX_ACCOUNTED) {
      const ranMs = current.ranMs - previous.ranMs
      stalls.push({
        atMs: Date.now(),
        lateMs,
        ranMs,
        waitedMs: current.waitedMs - previous.waitedMs,
        othersRanMs: Math.max(0, current.processMs - previous.processMs - ranMs),
        majorFaults: current.majorFaults - previous.majorFaults,
      })
    }
    previous = current
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
      const accounted = stalls
      histogram = createHistogram()
      over = STALL_BOUNDS_MS.map(() => 0)
      worst = { lateMs: 0, atMs: 0 }
      stalls = []
      // An empty histogram has no quantiles (NaN), and NaN does not survive IPC's JSON.
      if (taken.count === 0) {
        return { p99Ms: 0, p999Ms: 0, maxMs: 0, over: counted, worstAtMs, stalls: accounted }
      }
      return {
        p99Ms: quantile(taken, 0.99) / 1000,
        p999Ms: quantile(taken, 0.999) / 1000,
        maxMs: taken.max / 1000,
        over: counted,
        worstAtMs,
        stalls: accounted,
      }
    },
  }
}
