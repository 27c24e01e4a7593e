// A token bucket per connection: a burst, then a steady rate. Pure arithmetic over an injected clock.
import type { RateLimit } from '../../../shared/protocol/limits.ts'

export interface TokenBucket {
  /** Takes one token if there is one. */
  take(): boolean
  isFull(): boolean
}

export function createTokenBucket(rate: RateLimit, now: () => number): TokenBucket {
  return new Bucket(rate, now)
}

// A class, so the bucket every connection holds costs its fields and not two closures.
class Bucket implements TokenBucket {
  private tokens: number
  private refilledAt: number

  constructor(
    private readonly rate: RateLimit,
    private readonly now: () => number,
  ) {
    this.tokens = rate.burst
    this.refilledAt = now()
  }

  take(): boolean {
    this.refill()
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  isFull(): boolean {
    return this.tokens >= this.rate.burst - 1
  }

  private refill(): void {
    const at = this.now()
    if (at > this.refilledAt) {
      this.tokens = Math.min(
        this.rate.burst,
        this.tokens + ((at - this.refilledAt) / 1000) * this.rate.perSecond,
      )
      this.refilledAt = at
    }
  }
}
