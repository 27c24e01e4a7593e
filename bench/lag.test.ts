// The bench's stall accounting: which of a process's stalls the machine made. A soak's verdict
// rests on it, so the rule is pinned here, and the monitor is shown to see a worker thread's CPU
// and the process's major page faults.
import { describe, expect, test } from 'bun:test'
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
  return { atMs: 0, lateMs, ranMs: 0, waitedMs: 0, othersRanMs: 0, majorFaults: 0, ...times }
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

describe('a stall’s page faults', () => {
  test('counts the pages the process waited to have read from disk', async () => {
    // A file out of the page cache (posix_fadvise DONTNEED after an fsync), then read through a
    // mapping while the event loop is blocked: each page not in memory is a major fault.
    const { dlopen, FFIType } = await import('bun:ffi')
    const libc = dlopen('libc.so.6', {
      posix_fadvise: {
        args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32],
        returns: FFIType.i32,
      },
    })
    const POSIX_FADV_DONTNEED = 4
    const dir = mkdtempSync(join(tmpdir(), 'lag-faults-'))
    const path = join(dir, 'pages')
    const fd = openSync(path, 'w+')
    try {
      writeSync(fd, new Uint8Array(8 << 20).fill(1))
      fsyncSync(fd)
      expect(libc.symbols.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)).toBe(0)
      const monitor = startLagMonitor(10)
      const pages = Bun.mmap(path)
      let sum = 0
      const blockUntil = performance.now() + 40
      for (let offset = 0; offset < pages.length; offset += 4096) sum += pages[offset] ?? 0
      while (performance.now() < blockUntil) {
        // Blocking the event loop on purpose, so the faults fall in an accounted stall.
      }
      expect(sum).toBe(pages.length / 4096)
      let stalls: AccountedStall[] = []
      await until(() => {
        stalls = stalls.concat(monitor.take().stalls)
        return stalls.length > 0
      }, 'an accounted stall')
      expect(stalls.reduce((faults, each) => faults + each.majorFaults, 0)).toBeGreaterThan(0)
    } finally {
      closeSync(fd)
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
