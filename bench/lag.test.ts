// The bench's stall accounting: which of a process's stalls the machine made. A soak's verdict
// rests on it, so the rule is pinned here, and the monitor is shown to see a worker thread's CPU.
import { describe, expect, test } from 'bun:test'
import { until } from '../tests/support/until.ts'
import {
  type AccountedStall,
  machineHeld,
  outsiderHeldMs,
  PERIOD_MS,
  sleptMs,
  startLagMonitor,
} from './lag.ts'

/** A stall of `lateMs`: the window is one timer period longer. */
function stall(lateMs: number, times: Partial<AccountedStall>): AccountedStall {
  return { atMs: 0, lateMs, ranMs: 0, waitedMs: 0, othersRanMs: 0, ...times }
}

describe('which stalls the machine made', () => {
  test('running through a stall is the process’s own', () => {
    expect(machineHeld(stall(22, { ranMs: 25 }))).toBe(false)
  })

  test('sleeping through one is the machine’s', () => {
    expect(machineHeld(stall(22, { ranMs: 2 }))).toBe(true)
  })

  test('waiting for a core that none of its threads held is the machine’s', () => {
    // The soak of 2026-12-02: 22.4 ms late, 3.6 ms on the core, 19.9 waiting, kdamond holding it.
    const held = stall(22.4, { ranMs: 3.6, waitedMs: 19.9, othersRanMs: 0.4 })
    expect(outsiderHeldMs(held)).toBeCloseTo(19.5, 5)
    expect(sleptMs(held)).toBeCloseTo(PERIOD_MS + 22.4 - 3.6 - 19.9, 5)
    expect(machineHeld(held)).toBe(true)
  })

  test('waiting behind its own JIT or collector is the process’s own', () => {
    expect(machineHeld(stall(22, { ranMs: 6, waitedMs: 19, othersRanMs: 17 }))).toBe(false)
  })
})

describe('the lag monitor', () => {
  test('counts what the process’s other threads ran during a stall', async () => {
    const monitor = startLagMonitor(10)
    // A worker spinning for 300 ms, on whatever core it gets, while the event loop is blocked.
    const spinner = new Worker(
      URL.createObjectURL(
        new Blob([
          'postMessage("spinning"); const end = performance.now() + 300; while (performance.now() < end) {}',
        ]),
      ),
    )
    const started = Promise.withResolvers<void>()
    spinner.onmessage = () => started.resolve()
    await started.promise
    try {
      const blockUntil = performance.now() + 80
      while (performance.now() < blockUntil) {
        // Blocking the event loop on purpose: the stall being measured.
      }
      let stalls: AccountedStall[] = []
      await until(() => {
        stalls = stalls.concat(monitor.take().stalls)
        return stalls.length > 0
      }, 'an accounted stall')
      const blocked = stalls.reduce((a, b) => (b.lateMs > a.lateMs ? b : a))
      expect(blocked.lateMs).toBeGreaterThan(50)
      expect(blocked.ranMs).toBeGreaterThan(30)
      expect(blocked.othersRanMs).toBeGreaterThan(10)
      expect(machineHeld(blocked)).toBe(false)
    } finally {
      spinner.terminate()
    }
  })
})
