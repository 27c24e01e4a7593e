// The soak's verdict on a stall: the server's own part, less only what lag.ts shows the machine took.
import { describe, expect, test } from 'bun:test'
import { type AccountedStall, PERIOD_MS } from '../lag.ts'
import { ownStallMs } from './soak.ts'

const AT = 1_000_000

function stall(lateMs: number, times: Partial<AccountedStall>, atMs = AT): AccountedStall {
  return { atMs, lateMs, ranMs: 0, waitedMs: 0, othersRanMs: 0, majorFaults: 0, ...times }
}

describe('the server’s own part of a soak stall', () => {
  test('time a core was held by another program is taken away, the idle process on time or not', () => {
    // The soak of 2026-12-02: 39.2 ms late, 7 ms on its core, 37.9 waiting, 6.5 for its own threads.
    const held = stall(39.2, { ranMs: 7, waitedMs: 37.9, othersRanMs: 6.5 })
    expect(ownStallMs(held, [])).toBeCloseTo(39.2 - 31.4, 5)
  })

  test('time it ran stays its own, however long it also waited', () => {
    // The full run of 2026-12-02: 23 ms of its own work, stretched to 36.1 by a held core.
    const ran = stall(36.1, { ranMs: 23, waitedMs: 18.8 })
    expect(ownStallMs(ran, [stall(15, {}, AT)])).toBeCloseTo(36.1 - 18.8, 5)
    expect(ownStallMs(stall(26.4, { ranMs: 26.6, waitedMs: 6.2, othersRanMs: 6.2 }), [])).toBe(26.4)
  })

  test('waiting behind its own JIT or collector stays its own', () => {
    expect(ownStallMs(stall(24.2, { ranMs: 6, waitedMs: 17.6, othersRanMs: 17.6 }), [])).toBe(24.2)
  })

  test('time it slept is taken away only when the idle process was late at that moment too', () => {
    const slept = stall(30, { ranMs: 2 })
    const sleptMs = PERIOD_MS + 30 - 2
    expect(ownStallMs(slept, [])).toBe(30)
    expect(ownStallMs(slept, [stall(12, {}, AT - 60)])).toBe(30)
    expect(ownStallMs(slept, [stall(12, { ranMs: 0.1 }, AT - 5)])).toBe(Math.max(0, 30 - sleptMs))
  })
  test('time the core was away from the machine is taken away, though the server seemed to run', () => {
    // The soak of 2026-12-02, minute 6: 25.1 ms late, 28.2 "run"; the idle process's wake-up at
    // the same moment 22.8 ms late with 1.7 waiting: the core was away for 21.1 of it.
    const charged = stall(25.1, { ranMs: 28.2, waitedMs: 0.4 })
    const idleWokeLate = stall(22.8, { ranMs: 0, waitedMs: 1.7 })
    expect(ownStallMs(charged, [idleWokeLate])).toBeCloseTo(25.1 - 21.1, 5)
    // An idle process late because it waited for the core (the server's own long turn): its own,
    // less only what it waited with no thread of its own on the core (0.4) and slept (1.5).
    const idleWaited = stall(22.8, { ranMs: 0.1, waitedMs: 22.5 })
    expect(ownStallMs(charged, [idleWaited])).toBeCloseTo(25.1 - 0.4 - 1.5, 5)
    // Only the part of the idle process's late wake-up inside the stall's window counts.
    expect(ownStallMs(charged, [stall(22.8, { waitedMs: 1.7 }, AT - 20)])).toBeCloseTo(
      25.1 - 10.1,
      5,
    )
    // Away or held, the larger counts, not both: held 18.8 (no own thread ran) and away 15.
    expect(ownStallMs(stall(36.1, { ranMs: 23, waitedMs: 18.8 }), [stall(15, {})])).toBeCloseTo(
      17.3,
      5,
    )
  })
})
