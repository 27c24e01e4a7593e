import { describe, expect, test } from 'bun:test'
import { createMlsMember } from '../../tests/support/mls-member.ts'
import type { ClientFrame } from '../protocol/frames.ts'
import type { Clock } from './clock.ts'
import { createMemoryStores } from './memory-stores.ts'
import type { ClientState } from './mls.ts'
import { Outbox } from './outbox.ts'
import { SerialQueue } from './serial-queue.ts'
import { createTrustBook } from './trust-book.ts'

/** A clock whose time moves only when the test says; sleeps end when their time is reached. */
function manualClock() {
  let time = 0
  const sleepers: Array<{ until: number; wake: () => void }> = []
  const clock: Clock = {
    now: () => time,
    setTimeout: () => {
      throw new Error('not used here')
    },
    clearTimeout: () => {},
    setInterval: () => {
      throw new Error('not used here')
    },
    clearInterval: () => {},
    sleep: (ms) => new Promise((wake) => sleepers.push({ until: time + ms, wake })),
  }
  return {
    clock,
    /** How many sends are waiting for their turn on this clock. */
    waiting: () => sleepers.length,
    advance(ms: number) {
      time += ms
      for (const sleeper of sleepers.splice(0)) {
        if (sleeper.until <= time) sleeper.wake()
        else sleepers.push(sleeper)
      }
    },
  }
}

async function outboxInGroup() {
  const alice = await createMlsMember('alice')
  await alice.found()
  let group: ClientState | undefined = alice.state
  const sent: string[] = []
  const trust = createTrustBook(createMemoryStores().trust)
  const time = manualClock()
  const outbox = new Outbox({
    clock: time.clock,
    queue: new SerialQueue(),
    trust,
    group: () => group,
    replaceGroup: (next) => {
      group = next
    },
    send: (frame: ClientFrame) => {
      if (frame.type === 'app') sent.push(frame.ciphertext)
    },
  })
  return { outbox, sent, trust, time, leave: () => (group = undefined) }
}

const text = (id: string) => ({ kind: 'text' as const, id, text: id })

/** Lets the queued steps and the encryptions run. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setImmediate(resolve))
}

/** Waits (on real time, briefly) until `holds` is true: encryption takes real microseconds. */
async function until(holds: () => boolean): Promise<void> {
  const deadline = performance.now() + 2000
  while (!holds()) {
    if (performance.now() > deadline) throw new Error('never came true')
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

describe('Outbox', () => {
  test('sends in call order, each once, and keeps each until the log shows it', async () => {
    const { outbox, sent } = await outboxInGroup()
    const ids = await Promise.all(['one', 'two', 'three'].map((id) => outbox.send(text(id))))
    expect(ids.map((item) => item.id)).toEqual(['one', 'two', 'three'])
    expect(sent).toHaveLength(3)
    expect(new Set(sent).size).toBe(3)
    expect(outbox.unacknowledged).toBe(3)
    expect(outbox.takeOwn(sent[1] as string)).toEqual(text('two'))
    expect(outbox.takeOwn(sent[1] as string)).toBeUndefined()
    expect(outbox.unacknowledged).toBe(2)
  })

  test('settles only once everything sent is seen in the log', async () => {
    const { outbox, sent } = await outboxInGroup()
    await outbox.send(text('one'))
    let settled = false
    const done = outbox.settled().then(() => {
      settled = true
    })
    await settle()
    expect(settled).toBe(false)
    outbox.takeOwn(sent[0] as string)
    await done
    expect(settled).toBe(true)
    await outbox.settled()
  })

  test('paces sends under the rate the server gave, and no faster', async () => {
    const { outbox, sent, time } = await outboxInGroup()
    // The server takes 4 a second in bursts of 3: this client sends 3 a second in bursts of 2.
    outbox.adopt({
      maxFileBytes: 1024,
      rate: { perSecond: 4, burst: 3 },
      bytes: { perSecond: 1_000_000, burst: 1_000_000 },
    })
    for (const id of ['a', 'b', 'c', 'd']) void outbox.send(text(id))
    // Two go at once; the third then waits on the clock, which alone can let it go.
    await until(() => sent.length === 2 && time.waiting() === 1)
    // At 3 a second the next token is a third of a second away.
    time.advance(300)
    await until(() => time.waiting() === 1)
    expect(sent).toHaveLength(2)
    time.advance(40)
    await until(() => sent.length === 3 && time.waiting() === 1)
    time.advance(340)
    await until(() => sent.length === 4)
  })

  test('paces large messages under the byte rate the server gave', async () => {
    const { outbox, sent, time } = await outboxInGroup()
    // 40 KB a second in bursts of 60 KB: this client sends 30 KB a second in bursts of 40 KB.
    outbox.adopt({
      maxFileBytes: 1_048_576,
      rate: { perSecond: 1000, burst: 1000 },
      bytes: { perSecond: 40_000, burst: 60_000 },
    })
    const big = (id: string) => ({ kind: 'text' as const, id, text: 'x'.repeat(12_000) })
    // Each is about 17 KB on the wire: two fit the burst, the third waits ~0.4 s on the clock.
    for (const id of ['a', 'b', 'c']) void outbox.send(big(id))
    await until(() => sent.length === 2 && time.waiting() === 1)
    time.advance(300)
    await until(() => time.waiting() === 1)
    expect(sent).toHaveLength(2)
    time.advance(200)
    await until(() => sent.length === 3)
  })

  test('holds new sends while the log is replayed, and sends again what was not seen', async () => {
    const { outbox, sent } = await outboxInGroup()
    await outbox.send(text('before'))
    outbox.catchUp()
    const later = outbox.send(text('after'))
    await settle()
    expect(sent).toHaveLength(1)
    outbox.resend()
    outbox.caughtUp()
    await later
    const [first, again, after] = sent
    expect([sent.length, again, after === first]).toEqual([3, first, false])
  })

  test('refuses to send outside the group or while a changed key waits for the user', async () => {
    const { outbox, trust, leave } = await outboxInGroup()
    await trust.observe('bob', 'A'.repeat(43))
    await trust.observe('bob', 'B'.repeat(43))
    await expect(outbox.send(text('x'))).rejects.toMatchObject({ code: 'key_change_unaccepted' })
    await trust.accept('bob')
    leave()
    await expect(outbox.send(text('x'))).rejects.toMatchObject({ code: 'not_in_group' })
  })
})
