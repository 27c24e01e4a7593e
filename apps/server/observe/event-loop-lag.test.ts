import { describe, expect, jest, test } from 'bun:test'
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

  test('forgets a lag once the window of samples has moved past it', () => {
    // Its own clock and fake timers: a busy machine's own stalls cannot land in the window.
    jest.useFakeTimers()
    let clock = 0
    const lag = watchEventLoopLag({ intervalMs: 5, window: 3, now: () => clock })
    const tick = (lateMs = 0) => {
      clock += 5 + lateMs
      jest.advanceTimersByTime(5)
    }
    try {
      tick()
      expect(lag.worstMs()).toBe(0)
      tick(100)
      expect(lag.worstMs()).toBe(100)
      tick()
      tick()
      expect(lag.worstMs()).toBe(100)
      tick()
      expect(lag.worstMs()).toBe(0)
    } finally {
      lag.stop()
      jest.useRealTimers()
    }
  })
})
