import { describe, expect, test } from 'bun:test'
import { startCheckpointer } from './checkpointer.ts'

/** A thread that asks for a quiet moment at once, and answers `quiet` after `answerMs` (or never). */
function askingThread(answerMs: number | null): Worker {
  const answer =
    answerMs === null
      ? ''
      : `if (event.data.type === 'quiet') setTimeout(() => postMessage({ type: 'done' }), ${answerMs})`
  const code = `
    onmessage = (event) => {
      if (event.data.type === 'start') postMessage({ type: 'quiet-please' })
      ${answer}
    }`
  return new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })))
}

/** A log that records when it is held and let go. */
function recordingLog() {
  const calls: Array<{ call: 'hold' | 'release'; at: number }> = []
  const released = Promise.withResolvers<void>()
  return {
    calls,
    released: released.promise,
    hold: () => void calls.push({ call: 'hold', at: performance.now() }),
    release() {
      calls.push({ call: 'release', at: performance.now() })
      released.resolve()
    },
  }
}

describe('the checkpoint thread’s quiet moments', () => {
  test('hold the log when asked and let it go when the checkpoint is done', async () => {
    const log = recordingLog()
    const checkpointer = startCheckpointer('unused', log, askingThread(0))
    try {
      await log.released
      expect(log.calls.map((entry) => entry.call)).toEqual(['hold', 'release'])
    } finally {
      checkpointer.stop()
    }
  })

  test('last 50 ms at most, whatever becomes of the thread', async () => {
    const log = recordingLog()
    const checkpointer = startCheckpointer('unused', log, askingThread(null))
    try {
      await log.released
      const [hold, release] = log.calls
      expect(hold?.call).toBe('hold')
      expect(release?.call).toBe('release')
      const heldMs = (release?.at ?? 0) - (hold?.at ?? 0)
      expect(heldMs).toBeGreaterThanOrEqual(45)
      expect(heldMs).toBeLessThan(1000)
    } finally {
      checkpointer.stop()
    }
  })
})
