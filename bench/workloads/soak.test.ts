// The soak's verdict on whose stall it was: the machine's only on the evidence lag.ts gathers.
import { describe, expect, test } from 'bun:test'
import type { AccountedStall } from '../lag.ts'
import { machineMade } from './soak.ts'

const AT = 1_000_000

function stall(lateMs: number, times: Partial<AccountedStall>, atMs = AT): AccountedStall {
  return { atMs, lateMs, ranMs: 0, waitedMs: 0, othersRanMs: 0, ...times }
}

describe('whose soak stall it was', () => {
  test('a core held by another program is the machine’s, the idle process on time or not', () => {
    expect(machineMade(stall(39.2, { ranMs: 7, waitedMs: 37.9, othersRanMs: 6.5 }), [])).toBe(true)
  })

  test('a core held by the server’s own threads is the server’s', () => {
    const stalled = stall(24.2, { ranMs: 10.3, waitedMs: 17.6, othersRanMs: 17 })
    expect(machineMade(stalled, [stall(15, {}, AT)])).toBe(false)
  })

  test('a stall slept through is the machine’s only when the idle process was late as well', () => {
    const slept = stall(30, { ranMs: 2 })
    expect(machineMade(slept, [])).toBe(false)
    expect(machineMade(slept, [stall(12, {}, AT - 60)])).toBe(false)
    expect(machineMade(slept, [stall(12, { ranMs: 0.1 }, AT - 5)])).toBe(true)
  })

  test('a stall spent running is the server’s', () => {
    expect(machineMade(stall(26.4, { ranMs: 26.6, waitedMs: 6.2 }), [stall(20, {}, AT)])).toBe(
      false,
    )
  })
})
