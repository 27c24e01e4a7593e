// What all connections from one address may send together: a frame budget and a byte budget,
// so opening more connections does not multiply what one sender can push into the log. Bounded:
// addresses whose buckets have refilled are forgotten.
import type { ByteRate, RateLimit } from '../../../shared/protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../../../shared/protocol/token-bucket.ts'

interface AddressBuckets {
  readonly frames: TokenBucket
  readonly bytes: TokenBucket
}

/** Addresses remembered at most; past this, the full (idle) ones are forgotten first. */
const MAX_ADDRESSES = 10_000

export interface AddressBudgetOptions {
  readonly frames: Pick<RateLimit, 'perSecond' | 'burst'>
  readonly bytes: ByteRate
  readonly now: () => number
}

export function createAddressBudget(options: AddressBudgetOptions) {
  const { now } = options
  const byAddress = new Map<string, AddressBuckets>()

  function bucketsOf(address: string): AddressBuckets {
    let buckets = byAddress.get(address)
    if (!buckets) {
      if (byAddress.size >= MAX_ADDRESSES) forgetIdle()
      buckets = {
        frames: createTokenBucket(options.frames, now),
        bytes: createTokenBucket(options.bytes, now),
      }
      byAddress.set(address, buckets)
    }
    return buckets
  }

  /** A full bucket holds nothing worth remembering: the address starts afresh if it returns. */
  function forgetIdle(): void {
    for (const [address, buckets] of byAddress) {
      if (buckets.frames.isFull() && buckets.bytes.isFull()) byAddress.delete(address)
    }
  }

  return {
    /** Takes one frame of `bytes` from the address's budget; false when it has none left. */
    take(address: string, bytes: number): boolean {
      const buckets = bucketsOf(address)
      if (!buckets.frames.take()) return false
      return bytes <= 0 || buckets.bytes.take(bytes)
    },
  }
}
