import { describe, expect, test } from 'bun:test'
import { startCheckpointer } from './checkpointer.ts'

function thread(code: string): Worker {
  return new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })))
}

/** A copier that asks for a quiet moment as soon as it starts, twice. */
const askingCopier = () =>
  thread(
    `onmessage = () => { postMessage({ type: 'quiet-please' }); postMessage({ type: 'quiet-please' }) }`,
  )

/** A restarter that answers `quiet` after `answerMs`, or never. */
function restarter(answerMs: number | null): Worker {
  const answer =
    answerMs === null ? '' : `setTimeout(() => postMessage({ type: 'done' }), ${answerMs})`
  return thread(`onmessage = (event) => { if (event.data.type === 'quiet') { ${answer} } }`)
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
  test('hold the log when the copier asks, once, and let it go when the restarter is done', async () => {
    const log = recordingLog()
    const threads = { copier: askingCopier(), restarter: restarter(20) }
    const checkpointer = startCheckpointer('unused', log, 1, threads)
    try {
      await log.released
      // The second ask came while held (the restarter takes 20 ms): no second hold.
      expect(log.calls.map((entry) => entry.call)).toEqual(['hold', 'release'])
    } finally {
      checkpointer.stop()
    }
  })

  test('last 50 ms at most, whatever becomes of the thread', async () => {
    const log = recordingLog()
    const threads = { copier: askingCopier(), restarter: restarter(null) }
    const checkpointer = startCheckpointer('unused', log, 1, threads)
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
