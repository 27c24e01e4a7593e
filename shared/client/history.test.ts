import { describe, expect, test } from 'bun:test'
import { EventHub } from './event-hub.ts'
import type { ChatEvent, FileEvent, MessageEvent } from './events.ts'
import { createHistory, HISTORY_FILE_BYTES, type HistoryLimits } from './history.ts'
import { createMemoryStores } from './memory-stores.ts'
import type { HistoryStore } from './stores.ts'

const DAY = 24 * 60 * 60 * 1000
const owner = { name: 'alice', identityKey: 'A'.repeat(43) }
const limits: HistoryLimits = { maxMessages: 3, maxAgeMs: 2 * DAY }

function message(n: number, at = 10 * DAY + n): MessageEvent {
  return { type: 'message', id: `m${n}`, seq: n, at, from: 'bob', own: false, text: `text ${n}` }
}

/** A history over `store`, with its gate feeding `shown`, as the engine wires it. */
function open(store: HistoryStore, now: number, given: HistoryLimits = limits) {
  const history = createHistory({ store, owner: async () => owner, limits: given, now: () => now })
  const hub = new EventHub()
  const shown: ChatEvent[] = []
  hub.on((event) => shown.push(event))
  return { history, gate: history.gate(hub), shown }
}

describe('history', () => {
  test('gives a new session the messages the last one showed, in order', async () => {
    const store = createMemoryStores().history
    const first = open(store, 10 * DAY)
    await first.history.ready()
    for (const n of [1, 2]) first.gate.emit(message(n))
    expect(first.shown).toEqual([message(1), message(2)])
    expect(await first.history.earlier()).toEqual([])
    expect(await first.history.clear()).toBe(2)
    for (const n of [1, 2]) first.gate.emit(message(n + 10))
    await first.history.idle()

    const second = open(store, 10 * DAY + 100)
    expect(await second.history.earlier()).toEqual([message(11), message(12)])
  })

  test('keeps the newest messages up to the count, none older than the age limit', async () => {
    const store = createMemoryStores().history
    const records = [message(1, 1 * DAY), message(2, 9 * DAY), message(3), message(4), message(5)]
    const first = open(store, 10 * DAY, { maxMessages: 100, maxAgeMs: 100 * DAY })
    await first.history.ready()
    for (const event of records) first.gate.emit(event)
    await first.history.idle()

    const later = open(store, 10 * DAY + 10, limits)
    expect(await later.history.earlier()).toEqual([message(3), message(4), message(5)])
    const aged = open(store, 12 * DAY + 4, limits)
    expect(await aged.history.earlier()).toEqual([message(4), message(5)])
    // What was pruned is gone from the store, not merely hidden.
    expect((await store.load(owner)).map((record) => record.id)).toEqual(['m4', 'm5'])
  })

  test('prunes while a session runs once twice the count has been kept', async () => {
    const store = createMemoryStores().history
    const session = open(store, 10 * DAY)
    await session.history.ready()
    for (let n = 1; n <= 5; n++) session.gate.emit(message(n))
    await session.history.idle()
    expect((await store.load(owner)).length).toBe(5)
    session.gate.emit(message(6))
    await session.history.idle()
    expect((await store.load(owner)).map((record) => record.id)).toEqual(['m4', 'm5', 'm6'])
  })

  test('does not show again a message an earlier session showed, from the same sender', async () => {
    const store = createMemoryStores().history
    await store.append(owner, { kind: 'message', ...withoutType(message(1)) })
    const session = open(store, 10 * DAY)
    await session.history.ready()
    // The log replays it after a resume from an older saved group state.
    session.gate.emit(message(1))
    // Another sender reusing the id is another message.
    const forged = { ...message(1), from: 'mallory', text: 'mine' }
    session.gate.emit(forged)
    expect(session.shown).toEqual([forged])
  })

  test('keeps a file with its name, size and head, and shows it as cut to the head', async () => {
    const store = createMemoryStores().history
    const bytes = new Uint8Array(HISTORY_FILE_BYTES + 10).fill(65)
    const file: FileEvent = {
      type: 'file',
      id: 'f1',
      seq: 1,
      at: 10 * DAY,
      from: 'bob',
      own: false,
      name: 'big.txt',
      size: bytes.length,
      truncated: false,
      sha256: 'a'.repeat(64),
      bytes,
    }
    const small = { ...file, id: 'f2', size: 3, bytes: new Uint8Array([104, 105, 10]) }
    const first = open(store, 10 * DAY)
    await first.history.ready()
    first.gate.emit(file)
    first.gate.emit(small)
    await first.history.idle()
    const [big, whole] = await open(store, 10 * DAY).history.earlier()
    expect(big).toEqual({ ...file, truncated: true, bytes: bytes.subarray(0, HISTORY_FILE_BYTES) })
    expect(whole).toEqual(small)
  })

  test('keeps nothing, and forgets what was kept, when the count is 0', async () => {
    const store = createMemoryStores().history
    await store.append(owner, { kind: 'message', ...withoutType(message(1)) })
    const session = open(store, 10 * DAY, { ...limits, maxMessages: 0 })
    expect(await session.history.earlier()).toEqual([])
    session.gate.emit(message(2))
    await session.history.idle()
    expect(session.shown).toEqual([message(2)])
    expect(await store.load(owner)).toEqual([])
  })

  test('clear forgets what was kept and says how much', async () => {
    const store = createMemoryStores().history
    await store.append(owner, { kind: 'message', ...withoutType(message(1)) })
    const session = open(store, 10 * DAY)
    expect(await session.history.earlier()).toHaveLength(1)
    session.gate.emit(message(2))
    expect(await session.history.clear()).toBe(2)
    expect(await session.history.earlier()).toEqual([])
    expect(await store.load(owner)).toEqual([])
  })

  test('an unreadable store is an empty history, and the chat goes on', async () => {
    const broken: HistoryStore = {
      load: () => Promise.reject(new Error('disk on fire')),
      append: () => Promise.reject(new Error('disk on fire')),
      replace: () => Promise.reject(new Error('disk on fire')),
      clear: () => Promise.reject(new Error('disk on fire')),
      loadOutgoing: () => Promise.reject(new Error('disk on fire')),
      keepOutgoing: () => Promise.reject(new Error('disk on fire')),
    }
    const session = open(broken, 10 * DAY)
    expect(await session.history.earlier()).toEqual([])
    session.gate.emit(message(1))
    expect(session.shown).toEqual([message(1)])
  })
})

function withoutType(event: MessageEvent) {
  const { type: _type, ...rest } = event
  return rest
}
