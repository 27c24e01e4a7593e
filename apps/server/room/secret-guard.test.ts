import { describe, expect, test } from 'bun:test'
import { SECRET_GUESS_LIMITS } from '../../../shared/protocol/limits.ts'
import type { ServerEvent } from '../observe/events.ts'
import { createSecretGuard, REMEMBER_MS } from './secret-guard.ts'

const HOME = '192.0.2.7'
const MINUTE = 60_000

/** A guard on a clock the test moves, with the events it logged. */
function guarded(maxAddresses?: number) {
  const clock = { at: 0 }
  const logged: ServerEvent[] = []
  const guard = createSecretGuard({
    ...SECRET_GUESS_LIMITS,
    now: () => clock.at,
    report: (event) => logged.push(event),
    maxAddresses,
  })
  return { clock, logged, guard }
}

/** Misses from `address` as fast as the guard lets them count: each lockout waited out. */
function missAfterEachLockout(
  { clock, guard }: ReturnType<typeof guarded>,
  times: number,
  address = HOME,
): number[] {
  return Array.from({ length: times }, () => {
    clock.at += guard.waitMs(address)
    return guard.missed(address)
  })
}

describe('createSecretGuard', () => {
  test('gives 5 free tries, then a lockout that doubles from 1 s up to 15 min', () => {
    const lockouts = missAfterEachLockout(guarded(), 17)
    expect(lockouts).toEqual([
      0,
      0,
      0,
      0,
      1000,
      2000,
      4000,
      8000,
      16_000,
      32_000,
      64_000,
      128_000,
      256_000,
      512_000,
      15 * MINUTE,
      15 * MINUTE,
      15 * MINUTE,
    ])
  })

  test('counts down a lockout to the millisecond and lets the address try when it ends', () => {
    const { clock, guard } = guarded()
    for (let miss = 0; miss < 5; miss += 1) guard.missed(HOME)
    expect(guard.waitMs(HOME)).toBe(1000)
    clock.at = 999
    expect(guard.waitMs(HOME)).toBe(1)
    clock.at = 1000
    expect(guard.waitMs(HOME)).toBe(0)
  })

  test('a guesser who never stops gets about 100 tries a day', () => {
    const state = guarded()
    let tries = 0
    while (state.clock.at < 24 * 3_600_000) {
      state.clock.at += state.guard.waitMs(HOME)
      state.guard.missed(HOME)
      tries += 1
    }
    expect(tries).toBeGreaterThan(90)
    expect(tries).toBeLessThan(115)
  })

  test('logs one line per lockout with the misses and the hellos refused meanwhile, never one per guess', () => {
    const state = guarded()
    const { clock, guard, logged } = state
    missAfterEachLockout(state, 5)
    for (let hello = 0; hello < 10_000; hello += 1) guard.waitMs(HOME)
    clock.at += 1000
    guard.missed(HOME)
    const lockout = { event: 'secret_lockout', address: HOME, unlogged: 0 } as const
    expect(logged).toEqual([
      { ...lockout, misses: 5, lockoutSeconds: 1, refusedMeanwhile: 0 },
      { ...lockout, misses: 6, lockoutSeconds: 2, refusedMeanwhile: 10_000 },
    ])
  })

  test('keeps the log to 10 lockout lines at once, then one a minute that counts the rest', () => {
    const state = guarded()
    const { clock, logged } = state
    for (let host = 1; host <= 50; host += 1) missAfterEachLockout(state, 5, `198.51.100.${host}`)
    expect(logged).toHaveLength(10)
    clock.at += MINUTE
    missAfterEachLockout(state, 1, '198.51.100.1')
    expect(logged).toHaveLength(11)
    expect(logged.at(-1)).toEqual({
      event: 'secret_lockout',
      address: '198.51.100.1',
      misses: 6,
      lockoutSeconds: 2,
      refusedMeanwhile: 0,
      unlogged: 40,
    })
  })

  test('holds every address of one IPv6 /64 as one, and other addresses apart', () => {
    const { guard } = guarded()
    for (let host = 1; host <= 5; host += 1) guard.missed(`2001:db8:0:7::${host}`)
    expect(guard.waitMs('2001:db8:0:7:ffff::1')).toBe(1000)
    expect(guard.waitMs('::ffff:192.0.2.8')).toBe(0)
    expect(guard.waitMs('2001:db8:0:8::1')).toBe(0)
    for (let miss = 0; miss < 5; miss += 1) guard.missed('::ffff:192.0.2.8')
    expect(guard.waitMs('192.0.2.8')).toBe(1000)
  })

  test('forgets an address a day after its last lockout ended, and starts it afresh', () => {
    const state = guarded()
    const { clock, guard } = state
    missAfterEachLockout(state, 6)
    expect(guard.size()).toBe(1)
    clock.at += 2000 + REMEMBER_MS - 1
    expect(guard.missed(HOME)).toBe(4000)
    clock.at += 4000 + REMEMBER_MS
    expect(guard.waitMs(HOME)).toBe(0)
    expect(guard.size()).toBe(0)
    expect(missAfterEachLockout(state, 5)).toEqual([0, 0, 0, 0, 1000])
  })

  test('remembers at most its cap of addresses, forgetting the longest quiet first', () => {
    const state = guarded(3)
    for (let host = 1; host <= 10; host += 1) missAfterEachLockout(state, 5, `198.51.100.${host}`)
    expect(state.guard.size()).toBe(3)
    expect(state.guard.waitMs('198.51.100.10')).toBeGreaterThan(0)
    expect(state.guard.waitMs('198.51.100.1')).toBe(0)
  })
})
