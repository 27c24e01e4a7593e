import { Database } from 'bun:sqlite'
import { describe, expect, test } from 'bun:test'
import { keepEntries } from '../../../tests/support/retention.ts'
import { openSqliteLog } from './sqlite-log.ts'

const frame = { type: 'app' as const, from: 'alice', at: 5, ciphertext: 'AAAA' }
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

describe('a log held for a checkpoint', () => {
  test('writes no batch until it is let go, then writes what came due at once', async () => {
    const log = openSqliteLog(new Database(':memory:'), keepEntries(100), 0)
    log.hold()
    const appended = [log.append(frame), log.append(frame)]
    await nextTurn()
    await nextTurn()
    expect(log.head()).toBe(0)
    log.release()
    expect(log.head()).toBe(2)
    expect((await Promise.all(appended)).map((entry) => entry.seq)).toEqual([1, 2])
    // Let go, it writes at the end of the turn as before.
    const later = log.append(frame)
    await nextTurn()
    expect(log.head()).toBe(3)
    expect((await later).seq).toBe(3)
  })

  test('still writes what is pending when a commit must follow it', async () => {
    const log = openSqliteLog(new Database(':memory:'), keepEntries(100), 0)
    log.hold()
    const appended = log.append(frame)
    log.writePending()
    expect(log.head()).toBe(1)
    expect((await appended).seq).toBe(1)
    // Nothing is left to write when it is let go.
    log.release()
    expect(log.head()).toBe(1)
  })
})

describe('a backlog', () => {
  /** Appends `count` in this turn; the sequence numbers are recorded as they are handed back. */
  function appendMany(log: ReturnType<typeof openSqliteLog>, count: number) {
    const handedBack: number[] = []
    const settled = Promise.allSettled(
      Array.from({ length: count }, () =>
        log.append(frame).then((entry) => {
          handedBack.push(entry.seq)
        }),
      ),
    )
    return { handedBack, settled }
  }

  /** The head and what was handed back after each turn, until both reach `last`. */
  async function turnByTurn(
    log: ReturnType<typeof openSqliteLog>,
    handedBack: number[],
    last: number,
  ) {
    const turns: Array<[number, number]> = []
    while ((log.head() < last || handedBack.length < last) && turns.length < 10) {
      await nextTurn()
      turns.push([log.head(), handedBack.length])
    }
    return turns
  }

  test('is written and handed back 32 entries a turn, in order', async () => {
    const log = openSqliteLog(new Database(':memory:'), keepEntries(1000), 0)
    const { handedBack } = appendMany(log, 100)
    expect(await turnByTurn(log, handedBack, 100)).toEqual([
      [32, 32],
      [64, 64],
      [96, 96],
      [100, 100],
    ])
    expect(handedBack).toEqual(Array.from({ length: 100 }, (_, index) => index + 1))
  })

  test('held for a checkpoint, it is let go 32 entries a turn', async () => {
    const log = openSqliteLog(new Database(':memory:'), keepEntries(1000), 0)
    log.hold()
    const { handedBack } = appendMany(log, 70)
    await nextTurn()
    expect(log.head()).toBe(0)
    log.release()
    expect(log.head()).toBe(32)
    expect(await turnByTurn(log, handedBack, 70)).toEqual([
      [64, 64],
      [70, 70],
    ])
  })

  test('a commit still has every earlier entry written first, at once', async () => {
    const log = openSqliteLog(new Database(':memory:'), keepEntries(1000), 0)
    const { handedBack } = appendMany(log, 100)
    log.writePending()
    expect(log.head()).toBe(100)
    await nextTurn()
    expect(handedBack).toHaveLength(100)
    expect(log.insertNext(frame).seq).toBe(101)
  })

  test('a write that fails refuses the rest of the backlog, and the numbers go on without a gap', async () => {
    const db = new Database(':memory:')
    const log = openSqliteLog(db, keepEntries(1000), 0)
    const { handedBack, settled } = appendMany(log, 100)
    await nextTurn()
    expect(log.head()).toBe(32)
    // The disk gives out: the next turn's write fails.
    db.run('ALTER TABLE log RENAME TO gone')
    const results = await settled
    expect(results.filter((result) => result.status === 'rejected')).toHaveLength(68)
    expect(handedBack).toHaveLength(32)
    db.run('ALTER TABLE gone RENAME TO log')
    const next = log.append(frame)
    await nextTurn()
    expect((await next).seq).toBe(33)
  })
})
