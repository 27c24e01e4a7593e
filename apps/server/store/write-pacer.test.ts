import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test'
import { createWritePacer, type PacerClock } from './write-pacer.ts'

describe('createWritePacer', () => {
  let now = 0
  // setImmediate is not faked: "soon" is recorded, and run by hand as the turn's end.
  let soon: Array<() => void> = []
  const clock: PacerClock = {
    now: () => now,
    soon: (run) => soon.push(run),
    after(run, ms) {
      const timer = setTimeout(run, ms)
      return () => clearTimeout(timer)
    },
  }
  beforeEach(() => {
    jest.useFakeTimers()
    now = 0
    soon = []
  })
  afterEach(() => jest.useRealTimers())

  function advance(ms: number): void {
    now += ms
    jest.advanceTimersByTime(ms)
  }

  test('after a quiet spell a batch is written at the end of the turn, with no wait', () => {
    const pacer = createWritePacer(1, clock)
    const written: string[] = []
    pacer.schedule(() => written.push('first'))
    expect(soon).toHaveLength(1)
    soon.shift()?.()
    expect(written).toEqual(['first'])
  })

  /** A 4 ms pace whose first batch was written at 0 ms; at 1 ms the next is scheduled. */
  function busy() {
    const pacer = createWritePacer(4, clock)
    const written: number[] = []
    const write = () => {
      pacer.writing()
      written.push(now)
    }
    pacer.schedule(write)
    soon.shift()?.()
    advance(1)
    pacer.schedule(write)
    return { pacer, written, write }
  }

  test('while busy the next batch waits until the interval since the last has passed', () => {
    const { pacer, written, write } = busy()
    expect(soon).toHaveLength(0)
    advance(2)
    expect(written).toEqual([0])
    advance(1)
    expect(written).toEqual([0, 4])
    // Quiet for longer than the interval: straight to the end of the turn again.
    advance(10)
    pacer.schedule(write)
    expect(soon).toHaveLength(1)
  })

  test('an interval of 0 writes every batch at the end of its turn', () => {
    const pacer = createWritePacer(0, clock)
    pacer.writing()
    pacer.schedule(() => {})
    expect(soon).toHaveLength(1)
  })

  test('a hurried batch goes at the end of the turn, once, and the pace counts from it', () => {
    const { pacer, written, write } = busy()
    pacer.hurry()
    expect(soon).toHaveLength(1)
    soon.shift()?.()
    expect(written).toEqual([0, 1])
    // The timer it was waiting on is gone: nothing more is written when it would have fired.
    advance(3)
    expect(written).toEqual([0, 1])
    // The next batch waits the pace from the hurried one.
    pacer.schedule(write)
    expect(soon).toHaveLength(0)
    advance(1)
    expect(written).toEqual([0, 1, 5])
  })

  test('hurrying with no batch waiting for the pace does nothing', () => {
    const pacer = createWritePacer(4, clock)
    pacer.hurry()
    pacer.schedule(() => {})
    pacer.hurry()
    expect(soon).toHaveLength(1)
  })

  test('a batch written another way cancels the timer that was to write it', () => {
    const { written, write } = busy()
    write()
    advance(10)
    expect(written).toEqual([0, 1])
  })
})
