import { describe, expect, test } from 'bun:test'
import { watchEventLoopLag } from './event-loop-lag.ts'

/** Holds the one thread the server runs on, as a long synchronous task would. */
function blockFor(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy on purpose
  }
}

describe('watchEventLoopLag', () => {
  test('sees the event loop held up for 200 ms as a lag of about that much', async () => {
    const lag = watchEventLoopLag({ intervalMs: 20, window: 10 })
    try {
      await lag.nextSample()
      blockFor(200)
      await lag.nextSample()
      expect(lag.worstMs()).toBeGreaterThanOrEqual(170)
      expect(lag.worstMs()).toBeLessThan(1000)
    } finally {
      lag.stop()
    }
  })

  test('forgets a lag once the window of samples has moved past it', async () => {
    const lag = watchEventLoopLag({ intervalMs: 5, window: 3 })
    try {
      await lag.nextSample()
      blockFor(100)
      await lag.nextSample()
      expect(lag.worstMs()).toBeGreaterThanOrEqual(80)
      for (let sample = 0; sample < 3; sample += 1) await lag.nextSample()
      expect(lag.worstMs()).toBeLessThan(80)
    } finally {
      lag.stop()
    }
  })
})
