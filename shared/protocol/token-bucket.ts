// A token bucket: a burst, then a steady rate. The server holds one per connection; a client paces
// its own sends with one to stay under it. Pure arithmetic over an injected clock.
import type { RateLimit } from './limits.ts'

export interface TokenBucket {
  /** Takes `count` tokens (one frame, or a frame's bytes) if there are that many. */
  take(count?: number): boolean
  isFull(): boolean
  /** The most tokens the bucket holds: the burst. */
  readonly capacity: number
  /** Milliseconds until `count` tokens are there to take; 0 when they are now. */
  waitMs(count?: number): number
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

  get capacity(): number {
    return this.rate.burst
  }

  take(count = 1): boolean {
    this.refill()
    if (this.tokens < count) return false
    this.tokens -= count
    return true
  }

  waitMs(count = 1): number {
    this.refill()
    const missing = count - this.tokens
    return missing <= 0 ? 0 : Math.ceil((missing / this.rate.perSecond) * 1000)
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
