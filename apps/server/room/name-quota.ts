// How many new names an identity key and an address may still bind: a token bucket for each, over
// the room's clock. Knows nothing of stores or sockets; admission asks it around each claim.
import type { NameRate } from '../../../shared/protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../../../shared/protocol/token-bucket.ts'

export type QuotaHolder = 'key' | 'address'

export type Allowance =
  /** Both may bind a name now. Call `settle` once the claim is decided, bound or not. */
  | { readonly ok: true; settle(bound: boolean): void }
  /** The first of the two that may not, and when it may again. */
  | { readonly ok: false; readonly holder: QuotaHolder; readonly waitMs: number }

export interface NameQuota {
  allow(identityKey: string, address: string): Allowance
}

interface Account {
  readonly bucket: TokenBucket
  /** Claims allowed and not yet settled: each may still take a token. */
  claiming: number
}

/**
 * One book of accounts per holder kind. A token is taken only when a claim binds (a reconnect
 * under a held name is free), and claims still in flight count against what is left, so a
 * hundred claims at once from one address cannot all pass before the first one binds.
 */
function createBook(rate: NameRate, now: () => number) {
  const accounts = new Map<string, Account>()
  let sweepAt = 1024

  /** A full, idle account is the same as none: dropped, so the map holds only recent binders. */
  function forgetIfIdle(id: string, account: Account): void {
    if (account.claiming === 0 && account.bucket.waitMs(rate.burst) === 0) accounts.delete(id)
  }

  return {
    /** Milliseconds until `id` may bind one more name beside those in flight; 0 when it may now. */
    waitMs(id: string): number {
      const account = accounts.get(id)
      return account ? account.bucket.waitMs(account.claiming + 1) : 0
    },
    open(id: string): Account {
      let account = accounts.get(id)
      if (!account) {
        // Now and then, not on every claim: a sweep costs the whole map.
        if (accounts.size >= sweepAt) {
          for (const [other, held] of accounts) forgetIfIdle(other, held)
          sweepAt = Math.max(1024, accounts.size * 2)
        }
        account = { bucket: createTokenBucket(rate, now), claiming: 0 }
        accounts.set(id, account)
      }
      account.claiming += 1
      return account
    },
    settle(id: string, account: Account, bound: boolean): void {
      account.claiming -= 1
      if (bound) account.bucket.take()
      forgetIfIdle(id, account)
    },
  }
}

export function createNameQuota(
  rates: { readonly perKey: NameRate; readonly perAddress: NameRate },
  now: () => number,
): NameQuota {
  const keys = createBook(rates.perKey, now)
  const addresses = createBook(rates.perAddress, now)
  return {
    allow(identityKey, address) {
      const group = addressGroup(address)
      const keyWait = keys.waitMs(identityKey)
      if (keyWait > 0) return { ok: false, holder: 'key', waitMs: keyWait }
      const addressWait = addresses.waitMs(group)
      if (addressWait > 0) return { ok: false, holder: 'address', waitMs: addressWait }
      const keyAccount = keys.open(identityKey)
      const addressAccount = addresses.open(group)
      let settled = false
      return {
        ok: true,
        settle(bound) {
          if (settled) return
          settled = true
          keys.settle(identityKey, keyAccount, bound)
          addresses.settle(group, addressAccount, bound)
        },
      }
    },
  }
}

/**
 * Whom an address's quota is charged to: an IPv4 address itself, an IPv6 address by its /64, the
 * least a site is given, so one host cannot bind afresh from each of its 2^64 addresses.
 */
export function addressGroup(address: string): string {
  const plain = address.replace(/%.*$/, '').toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain)
  if (mapped?.[1]) return mapped[1]
  if (!plain.includes(':')) return plain
  const [head = '', tail] = plain.split('::')
  const groups = (part: string) => (part === '' ? [] : part.split(':'))
  // A dotted IPv4 tail (::ffff:…, 64:ff9b::…) fills the last two groups.
  const count = (parts: string[]) =>
    parts.reduce((sum, part) => sum + (part.includes('.') ? 2 : 1), 0)
  const front = groups(head)
  const back = tail === undefined ? [] : groups(tail)
  const zeros = Array<string>(Math.max(0, 8 - count(front) - count(back))).fill('0')
  const full = [...front, ...zeros, ...back]
  return `${full
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`
}
