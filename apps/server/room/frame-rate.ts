// One connection's own rate limits: a token bucket for frames, one for the bytes of large frames,
// and the strikes that decide between warning a sender, dropping its frames quietly and closing
// it. Knows limits and a clock; the budget an address shares is the room's.
import { type Limits, SMALL_FRAME_BYTES } from '../../../shared/protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../../../shared/protocol/token-bucket.ts'

/** What becomes of a sender over its rate: told once, then dropped quietly, then closed. */
export type Strike = 'warn' | 'drop' | 'close'

export class FrameRate {
  private strikes = 0
  private readonly frames: TokenBucket
  /** Made at the first large frame: most connections never send one. */
  private bytes: TokenBucket | undefined

  constructor(
    private readonly limits: Limits,
    private readonly now: () => number,
  ) {
    this.frames = createTokenBucket(limits.rate, now)
  }

  /** Takes one frame of `bytes` from this connection's buckets; false when it is over either. */
  take(bytes: number): boolean {
    if (!this.frames.take()) return false
    if (bytes <= SMALL_FRAME_BYTES) return true
    this.bytes ??= createTokenBucket(this.limits.bytes, this.now)
    return this.bytes.take(bytes)
  }

  /** A frame over the rate: what to do with its sender. */
  strike(): Strike {
    this.strikes += 1
    if (this.strikes > this.limits.rate.strikes) return 'close'
    return this.strikes === 1 ? 'warn' : 'drop'
  }

  /** A frame went through: once the bucket has filled again, earlier strikes are forgiven. */
  passed(): void {
    if (this.frames.isFull()) this.strikes = 0
  }
}
