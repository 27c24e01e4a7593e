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
