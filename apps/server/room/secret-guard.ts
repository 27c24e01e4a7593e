// Backoff for room-secret guesses, per address (an IPv6 /64): a few free tries, then a lockout that
// doubles with each further miss, during which a secret from there is not even checked, so a guess
// then tells nothing. Knows addresses as strings and a clock; nothing of sockets or frames.
import type { SecretGuessLimits } from '../../../shared/protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../../../shared/protocol/token-bucket.ts'
import type { EventSink } from '../observe/events.ts'
import { addressGroup } from './name-quota.ts'

export interface SecretGuard {
  /**
   * Milliseconds `address` must still wait before a secret from it is checked, 0 when it may try.
   * A hello refused meanwhile is counted for the next log line.
   */
  waitMs(address: string): number
  /** A wrong secret from `address`: the lockout it starts (ms), 0 while tries are left. */
  missed(address: string): number
  /** Addresses remembered now. */
  size(): number
}

export interface SecretGuardOptions extends SecretGuessLimits {
  readonly now: () => number
  /** The operator's event log: a line per lockout (at most LOG_RATE of them), never per guess. */
  readonly report: EventSink
  /** Addresses remembered at most (default 10,000, about a megabyte). */
  readonly maxAddresses?: number
}

interface Misses {
  misses: number
  /** Hellos refused while locked out, since the last line that counted them. */
  refused: number
  lockedUntil: number
  /** When the address is forgotten: a day after its last miss or lockout ended. */
  forgetAt: number
}

/**
 * Lockout lines the log takes: 10 at once, then one a minute. Past that, lockouts are counted
 * into the next line, so a guesser with many addresses cannot flood the log either.
 */
const LOG_RATE = { perSecond: 1 / 60, burst: 10 }
const MAX_ADDRESSES = 10_000
/**
 * How long misses are remembered after the last lockout ends. Shorter than a day, forgetting would
 * pay: with 15 minutes, five free tries each quarter hour beat waiting out the doubled lockouts.
 */
export const REMEMBER_MS = 24 * 3_600_000

export function createSecretGuard(options: SecretGuardOptions): SecretGuard {
  const { now, report, freeTries, firstLockoutMs, maxLockoutMs } = options
  const maxAddresses = options.maxAddresses ?? MAX_ADDRESSES
  /** By address group, least recently missed first: the order in which they are forgotten. */
  const records = new Map<string, Misses>()
  /** Made at the first lockout: a bucket reads the clock, which may not be running yet. */
  let logBudget: TokenBucket | undefined
  let unlogged = 0

  function recordOf(group: string, at: number): Misses | undefined {
    const record = records.get(group)
    if (record && at >= record.forgetAt) {
      records.delete(group)
      return undefined
    }
    return record
  }

  /** Makes room for one more: the expired first, else the one that missed longest ago. */
  function makeRoom(at: number): void {
    for (const [group, record] of records) {
      if (records.size < maxAddresses) return
      if (at >= record.forgetAt) records.delete(group)
      else break
    }
    if (records.size >= maxAddresses) {
      const oldest = records.keys().next()
      if (!oldest.done) records.delete(oldest.value)
    }
  }

  function logLockout(group: string, record: Misses, lockoutMs: number): void {
    logBudget ??= createTokenBucket(LOG_RATE, now)
    if (!logBudget.take()) {
      unlogged += 1
      return
    }
    report({
      event: 'secret_lockout',
      address: group,
      misses: record.misses,
      lockoutSeconds: Math.ceil(lockoutMs / 1000),
      refusedMeanwhile: record.refused,
      unlogged,
    })
    record.refused = 0
    unlogged = 0
  }

  return {
    waitMs(address) {
      const at = now()
      const record = recordOf(addressGroup(address), at)
      if (!record || at >= record.lockedUntil) return 0
      record.refused += 1
      return record.lockedUntil - at
    },
    missed(address) {
      const at = now()
      const group = addressGroup(address)
      let record = recordOf(group, at)
      if (record) records.delete(group)
      else {
        makeRoom(at)
        record = { misses: 0, refused: 0, lockedUntil: 0, forgetAt: 0 }
      }
      records.set(group, record)
      record.misses += 1
      const beyond = record.misses - freeTries
      const lockoutMs = beyond < 0 ? 0 : Math.min(firstLockoutMs * 2 ** beyond, maxLockoutMs)
      record.lockedUntil = at + lockoutMs
      record.forgetAt = record.lockedUntil + REMEMBER_MS
      if (lockoutMs > 0) logLockout(group, record, lockoutMs)
      return lockoutMs
    },
    size: () => records.size,
  }
}
