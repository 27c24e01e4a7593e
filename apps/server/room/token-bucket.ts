// A token bucket per connection: a burst, then a steady rate. Pure arithmetic over an injected clock.
import type { RateLimit } from '../../../shared/protocol/limits.ts'

export interface TokenBucket {
  /** Takes one token if there is one. */
  take(): boolean
  isFull(): boolean
}

export function createTokenBucket(rate: RateLimit, now: () => number): TokenBucket {
  let tokens = rate.burst
  let refilledAt = now()

  function refill(): void {
    const at = now()
    if (at > refilledAt) {
      tokens = Math.min(rate.burst, tokens + ((at - refilledAt) / 1000) * rate.perSecond)
      refilledAt = at
    }
  }

  return {
    take() {
      refill()
      if (tokens < 1) return false
      tokens -= 1
      return true
    },
    isFull() {
      return tokens >= rate.burst - 1
    },
  }
}
