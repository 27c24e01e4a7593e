import { Database } from 'bun:sqlite'
import { afterEach, describe, expect, test } from 'bun:test'
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keepEntries } from '../../../tests/support/retention.ts'
import { until } from '../../../tests/support/until.ts'
import { frameOf } from '../../../tests/support/wire.ts'
import { openSqliteStore, type SqliteStore } from './sqlite-store.ts'

const KEY_A = 'A'.repeat(43)
const KEY_B = 'B'.repeat(43)

const directories: string[] = []

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'chatbox-store-'))
  directories.push(directory)
  return directory
}

afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

/** The seqs of the entries after `afterSeq`, at most `limit`. */
async function seqsAfter(store: SqliteStore, afterSeq: number, limit: number) {
  return (await store.log.readAfter(afterSeq, limit)).map((entry) => entry.seq)
}

function app(ciphertext: string) {
  return { type: 'app' as const, from: 'alice', at: 5, ciphertext }
}

describe('openSqliteStore', () => {
  test('numbers appended frames from 1 and stores them stamped with their seq', async () => {
    const store = openSqliteStore(':memory:', keepEntries(10))
    const first = await store.log.append(app('AA'))
    expect(first.seq).toBe(1)
    expect(frameOf(first.wire)).toEqual({ ...app('AA'), seq: 1 })
    const second = store.log.append(app('BB'))
    // Written at the end of the turn: until then the head (and what replays read) is unchanged.
    expect(store.log.head()).toBe(1)
    expect(await second).toMatchObject({ seq: 2 })
    expect(store.log.head()).toBe(2)
    expect(await seqsAfter(store, 0, 10)).toEqual([1, 2])
    expect(await seqsAfter(store, 1, 10)).toEqual([2])
    expect(await seqsAfter(store, 0, 1)).toEqual([1])
    store.close()
  })

  test('writes a turn’s appends in one batch and refuses the whole batch when the write fails', async () => {
    const store = openSqliteStore(':memory:', keepEntries(10))
    const appended = [store.log.append(app('AA')), store.log.append(app('BB'))]
    expect((await Promise.all(appended)).map((entry) => entry.seq)).toEqual([1, 2])
    store.close()
    // A closed database stands in for a full disk: every append of the batch is refused, and
    // the numbers are handed out again rather than skipped.
    const failing = [store.log.append(app('CC')), store.log.append(app('DD'))]
    for (const result of await Promise.allSettled(failing)) expect(result.status).toBe('rejected')
    expect(store.log.head()).toBe(2)
  })

  test('while busy, appends of later turns wait for the pace and go in one batch', async () => {
    for (const [batchMs, together] of [
      [0, false],
      [200, true],
    ] as const) {
      const store = openSqliteStore(':memory:', keepEntries(10), batchMs)
      // The first after a quiet spell goes at the end of its turn, with no wait.
      expect(await store.log.append(app('AA'))).toMatchObject({ seq: 1 })
      const second = store.log.append(app('BB'))
      // The head when the second is handed back: the whole batch is held by then.
      const headAtSecond = second.then(() => store.log.head())
      await new Promise((resolve) => setImmediate(resolve))
      const third = store.log.append(app('CC'))
      expect(await headAtSecond).toBe(together ? 3 : 2)
      expect(await third).toMatchObject({ seq: 3 })
      store.close()
    }
  })

  test('while busy, a batch of 16 goes at the end of its turn without waiting out the pace', async () => {
    const store = openSqliteStore(':memory:', keepEntries(100), 60_000)
    const turn = () => new Promise((resolve) => setImmediate(resolve))
    await store.log.append(app('AA'))
    // Fifteen wait for the pace (a minute here)...
    const appends = Array.from({ length: 15 }, () => store.log.append(app('BB')))
    await turn()
    await turn()
    expect(store.log.head()).toBe(1)
    // ...and the sixteenth sends the batch at the end of its turn.
    appends.push(store.log.append(app('CC')))
    const written = await Promise.all(appends)
    expect(written.map((entry) => entry.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 2))
    expect(store.log.head()).toBe(17)
    store.close()
  })

  test.skipIf(!existsSync('/proc/thread-self'))(
    'checkpoints on a thread that gives way to the event loop (nice 19)',
    async () => {
      // Threads at nice 19 in this process: the worker's, and the helpers it starts after, which
      // inherit it (other files' stores may have left some behind).
      const backgroundThreads = () =>
        readdirSync('/proc/self/task').filter((thread) => {
          const stat = readFileSync(`/proc/self/task/${thread}/stat`, 'utf8')
          return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16] === '19'
        }).length
      const before = backgroundThreads()
      const store = openSqliteStore(temporaryDirectory(), keepEntries(10))
      try {
        const deadline = performance.now() + 5000
        while (backgroundThreads() === before && performance.now() < deadline) await Bun.sleep(10)
        expect(backgroundThreads()).toBeGreaterThan(before)
      } finally {
        store.close()
      }
    },
  )

  test('restarts its write-ahead log though appends never pause, so the file does not grow for good', async () => {
    const directory = temporaryDirectory()
    // Started over at 4 MB rather than 64, so the test takes seconds.
    const store = openSqliteStore(directory, keepEntries(100_000), undefined, 1024)
    // Bytes 16–19 of the log's header, its first salt, go up by one each time it starts over.
    const salt = () => {
      const header = new Uint8Array(20)
      try {
        const file = openSync(join(directory, 'chatbox.sqlite-wal'), 'r')
        try {
          if (readSync(file, header, 0, 20, 0) < 20) return undefined
        } finally {
          closeSync(file)
        }
      } catch {
        return undefined
      }
      return new DataView(header.buffer).getUint32(16)
    }
    const salts = new Set<number>()
    const restarts = () => {
      const now = salt()
      if (now !== undefined) salts.add(now)
      // The first salt seen is the log's first start, not a restart.
      return salts.size - 1
    }
    // Sixteen messages a millisecond, a full batch each (the soak sends four): a checkpoint never
    // finds the log written up.
    const frame = app('A'.repeat(446))
    const writer = setInterval(() => {
      for (let index = 0; index < 16; index += 1) void store.log.append(frame)
    }, 1)
    try {
      await until(() => restarts() >= 2, 'two restarts of the write-ahead log', 15_000)
    } finally {
      clearInterval(writer)
      store.close()
    }
  }, 20_000)

  test('keeps the log and the name bindings across closing and reopening', async () => {
    const directory = temporaryDirectory()
    const first = openSqliteStore(directory, keepEntries(10))
    first.identities.claim('alice', KEY_A, 1)
    const written = [await first.log.append(app('AA')), await first.log.append(app('BB'))]
    first.close()

    const second = openSqliteStore(directory, keepEntries(10))
    expect(second.log.head()).toBe(2)
    expect(second.log.oldest()).toBe(1)
    expect(await second.log.readAfter(0, 10)).toEqual(written)
    expect(second.identities.claim('alice', KEY_A, 2)).toBe('known')
    expect(second.identities.claim('ALICE', KEY_B, 2)).toBe('conflict')
    expect((await second.log.append(app('CC'))).seq).toBe(3)
    second.close()
  })

  test('replays entries logged as JSON before binary frames as they were, after them the new ones', async () => {
    const directory = temporaryDirectory()
    const first = openSqliteStore(directory, keepEntries(10))
    first.close()
    // What an earlier version wrote: the stamped frame as JSON text.
    const json = JSON.stringify({ ...app('AQID'), seq: 1 })
    const old = new Database(join(directory, 'chatbox.sqlite'))
    old.run('INSERT INTO log (seq, at, size, frame) VALUES (1, 5, ?, ?)', [json.length, json])
    old.close()

    const store = openSqliteStore(directory, keepEntries(10))
    await store.log.append(app('BBBA'))
    const [before, after] = await store.log.readAfter(0, 10)
    expect(before?.wire).toBe(json)
    expect(after?.wire).toBeInstanceOf(Uint8Array)
    expect(frameOf(after?.wire ?? '')).toEqual({ ...app('BBBA'), seq: 2 })
    store.close()
  })

  test('prunes to the retention once the log holds 1000 more, and remembers it on reopening', async () => {
    const directory = temporaryDirectory()
    const retention = 5
    const store = openSqliteStore(directory, keepEntries(retention))
    for (let index = 0; index < retention + 1000; index += 1) store.log.append(app('AA'))
    store.flush()
    expect(store.log.oldest()).toBe(1)
    store.log.append(app('AA'))
    store.flush()
    const head = retention + 1001
    expect(store.log.head()).toBe(head)
    expect(store.log.oldest()).toBe(head - retention + 1)
    expect(await seqsAfter(store, 0, 100)).toEqual([head - 4, head - 3, head - 2, head - 1, head])
    store.close()

    const reopened = openSqliteStore(directory, keepEntries(retention))
    expect(reopened.log.head()).toBe(head)
    expect(reopened.log.oldest()).toBe(head - retention + 1)
    reopened.close()
  })

  test('writes appends on its own by the next turn of the event loop', async () => {
    const directory = temporaryDirectory()
    const writer = openSqliteStore(directory, keepEntries(10))
    writer.log.append(app('AA'))
    await new Promise((resolve) => setImmediate(resolve))
    const reader = openSqliteStore(directory, keepEntries(10))
    expect(reader.log.head()).toBe(1)
    reader.close()
    writer.close()
  })

  test('ends a group stored before commits were checked, which has no public state to check them by', () => {
    const directory = temporaryDirectory()
    const old = new Database(join(directory, 'chatbox.sqlite'), { create: true })
    old.run(
      'CREATE TABLE mls_group (id INTEGER PRIMARY KEY CHECK (id = 1), group_id TEXT NOT NULL, epoch INTEGER NOT NULL, roster TEXT NOT NULL)',
    )
    old.run(`INSERT INTO mls_group VALUES (1, '${'G'.repeat(22)}', 7, '["alice","bob"]')`)
    old.close()
    const store = openSqliteStore(directory, keepEntries(10))
    expect(store.groups.load()).toBeNull()
    const founded = { groupId: 'H'.repeat(22), epoch: 0, roster: ['carol'], state: 'UzA' }
    expect(store.groups.found(founded)).toBe(true)
    expect(store.groups.load()).toEqual(founded)
    store.close()
  })
})
