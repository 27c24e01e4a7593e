import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test'
import { systemClock } from './clock.ts'
import { GAP_WAIT_MS, type LogFrame, LogReader, MAX_HELD_FRAMES } from './log-reader.ts'

function app(seq: number): LogFrame {
  return { type: 'app', seq, from: 'alice', at: 0, ciphertext: 'AA' }
}

/** A reader over a position the test moves, recording what it applied and asked for again. */
function readerAt(
  start: number | undefined,
  awaitingWelcome = false,
  /** Runs after a frame is applied, as the engine's decryption would, before apply returns. */
  whileApplying?: (seq: number) => Promise<void> | undefined,
) {
  let position = start
  const applied: number[] = []
  const resumes: number[] = []
  const reader = new LogReader({
    clock: systemClock,
    position: () => position,
    awaitingWelcome: () => awaitingWelcome,
    async apply(frame) {
      position = frame.seq
      applied.push(frame.seq)
      await whileApplying?.(frame.seq)
    },
    resume: (afterSeq) => resumes.push(afterSeq),
  })
  return {
    reader,
    applied,
    resumes,
    join(at: number) {
      position = at
    },
  }
}

describe('LogReader', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  test('applies frames in order and skips what it has already applied', async () => {
    const { reader, applied } = readerAt(4)
    for (const seq of [3, 4, 5, 6, 6]) await reader.receive(app(seq))
    expect(applied).toEqual([5, 6])
    expect(reader.seen).toBe(6)
  })

  test('applies a held frame once when a second copy comes while the one before it is read', async () => {
    // A failover: #52 came early and is held; #51 is being decrypted when the resume's copy of
    // #52 arrives. That copy must wait for the held one, not be read beside it.
    let releaseFirst: (() => void) | undefined
    const { reader, applied } = readerAt(50, false, (seq) =>
      seq === 51 ? new Promise<void>((resolve) => (releaseFirst = resolve)) : undefined,
    )
    await reader.receive(app(52))
    const reading51 = reader.receive(app(51))
    await reader.receive(app(52))
    releaseFirst?.()
    await reading51
    expect(applied).toEqual([51, 52])
  })

  test('holds a frame that comes early until the gap before it closes', async () => {
    const { reader, applied, resumes } = readerAt(0)
    await reader.receive(app(3))
    await reader.receive(app(2))
    expect(applied).toEqual([])
    await reader.receive(app(1))
    expect(applied).toEqual([1, 2, 3])
    jest.advanceTimersByTime(GAP_WAIT_MS)
    expect(resumes).toEqual([])
  })

  test('asks for the missing frames once a gap stays open a second, not before', async () => {
    const { reader, resumes } = readerAt(7)
    await reader.receive(app(9))
    jest.advanceTimersByTime(GAP_WAIT_MS - 1)
    expect(resumes).toEqual([])
    jest.advanceTimersByTime(1)
    expect(resumes).toEqual([7])
  })

  test('outside the group keeps frames only while a Welcome is awaited, then reads on after it', async () => {
    const outside = readerAt(undefined, false)
    await outside.reader.receive(app(5))
    expect(outside.applied).toEqual([])

    const { reader, applied, join } = readerAt(undefined, true)
    for (const seq of [5, 6, 7]) await reader.receive(app(seq))
    // The Welcome came with the commit at 5: 5 is covered by it, 6 and 7 follow.
    join(5)
    reader.forgetThrough(5)
    await reader.drain()
    expect(applied).toEqual([6, 7])
  })

  test('gives up holding past the limit and asks for everything after its position', async () => {
    const { reader, resumes } = readerAt(0)
    for (let seq = 2; seq < MAX_HELD_FRAMES + 2; seq += 1) await reader.receive(app(seq))
    expect(resumes).toEqual([])
    await reader.receive(app(MAX_HELD_FRAMES + 2))
    expect(resumes).toEqual([0])
  })
})
