// Paces own messages under the rates the server accepts (frames a second, and bytes a second for
// large frames), so that none is ever refused for rate. Knows only sizes and a clock.
import type { ServerLimits } from '../protocol/frames.ts'
import { createLimits, SMALL_FRAME_BYTES } from '../protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../protocol/token-bucket.ts'
import type { Clock } from './clock.ts'

/** The server's rates before it says what it accepts (its defaults). */
const DEFAULTS = createLimits()

/** MLS framing, padding and the binary frame's tag around a payload, in bytes, generously. */
const ENVELOPE_BYTES = 512

/** Stay well under the server's bucket, so no message is ever refused for rate. */
function pacingFor(rate: ServerLimits['rate']): ServerLimits['rate'] {
  return { perSecond: rate.perSecond * 0.75, burst: Math.max(1, Math.floor((rate.burst * 2) / 3)) }
}

export class SendPacer {
  private bucket: TokenBucket
  /** The server's byte budget for large frames (files), paced under as the frame rate is. */
  private byteBucket: TokenBucket

  constructor(private readonly clock: Clock) {
    this.bucket = createTokenBucket(pacingFor(DEFAULTS.rate), clock.now)
    this.byteBucket = createTokenBucket(pacingFor(DEFAULTS.bytes), clock.now)
  }

  /** The server said what rate it accepts: pace under that from now on. */
  adopt(limits: ServerLimits): void {
    this.bucket = createTokenBucket(pacingFor(limits.rate), this.clock.now)
    this.byteBucket = createTokenBucket(pacingFor(limits.bytes), this.clock.now)
  }

  /** Resolves once the frame this plaintext becomes (the ciphertext raw, and the rest) may go. */
  async paced(plaintext: Uint8Array): Promise<void> {
    while (!this.bucket.take()) await this.clock.sleep(this.bucket.waitMs())
    const frameBytes = plaintext.length + ENVELOPE_BYTES
    if (frameBytes <= SMALL_FRAME_BYTES) return
    // A frame larger than the whole bucket could never go: it waits for a full one instead.
    const bytes = Math.min(frameBytes, this.byteBucket.capacity)
    while (!this.byteBucket.take(bytes)) {
      await this.clock.sleep(this.byteBucket.waitMs(bytes))
    }
  }
}
