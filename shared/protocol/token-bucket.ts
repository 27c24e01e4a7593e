// A token bucket: a burst, then a steady rate. The server holds one per connection; a client paces
// its own sends with one to stay under it. Pure arithmetic over an injected clock.
import type { RateLimit } from './limits.ts'

export interface TokenBucket {
  /** Takes one token if there is one. */
  take(): boolean
  isFull(): boolean
  /** Milliseconds until a token is there to take; 0 when one is now. */
  waitMs(): number
}

export function createTokenBucket(
  rate: Pick<RateLimit, 'perSecond' | 'burst'>,
  now: () => number,
): TokenBucket {
  return new Bucket(rate, now)
}

// A class, so the bucket every connection holds costs its fields and not two closures.
class Bucket implements TokenBucket {
  private tokens: number
  private refilledAt: number

  constructor(
    private readonly rate: Pick<RateLimit, 'perSecond' | 'burst'>,
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

  waitMs(): number {
    this.refill()
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000)
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
