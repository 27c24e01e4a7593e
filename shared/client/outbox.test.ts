import { describe, expect, test } from 'bun:test'
import { createMlsMember } from '../../tests/support/mls-member.ts'
import { decodeBase64url } from '../protocol/base64url.ts'
import type { ClientFrame } from '../protocol/frames.ts'
import type { Clock } from './clock.ts'
import type { DeliveryEvent } from './events.ts'
import { createMemoryStores } from './memory-stores.ts'
import { type ClientState, decryptMessage } from './mls.ts'
import { Outbox, type OutboxOptions } from './outbox.ts'
import { recordOf } from './outgoing-message.ts'
import { decodePayload } from './payload.ts'
import { SerialQueue } from './serial-queue.ts'
import type { OutgoingRecord } from './stores.ts'
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
  let kept: ClientState | undefined
  const sent: string[] = []
  /** What the device holds, and whether its next save fails. */
  const device: { saved?: ClientState; failing: boolean; records: OutgoingRecord[] } = {
    failing: false,
    records: [],
  }
  /** For each ciphertext sent: whether the device kept it as on its way by then. */
  const keptFirst: boolean[] = []
  /** For each ciphertext sent: whether the group state it left was on the device by then. */
  const savedFirst: boolean[] = []
  const deliveries: DeliveryEvent[] = []
  const link = { open: true }
  const trust = createTrustBook(createMemoryStores().trust)
  const time = manualClock()
  /** Our own commit in flight, as membership.ts holds it. */
  const commit: { inFlight?: PromiseWithResolvers<void> } = {}
  const options: OutboxOptions = {
    clock: time.clock,
    queue: new SerialQueue(),
    trust,
    group: () => group,
    replaceGroup: (next) => {
      group = next
    },
    async saveGroup() {
      await Promise.resolve()
      if (device.failing) throw new Error('the disk is full')
      device.saved = group
    },
    send: (frame: ClientFrame) => {
      if (frame.type !== 'app') return
      savedFirst.push(device.saved === group)
      keptFirst.push(device.records.some((record) => record.made?.ciphertext === frame.ciphertext))
      if (link.open) sent.push(frame.ciphertext)
    },
    connected: () => link.open,
    report: (event) => deliveries.push(event),
    ownCommitSettled: () => commit.inFlight?.promise,
    // Kept only once `restore` ran, as the engine runs it before connecting.
    keeper: {
      load: async () => structuredClone(device.records),
      async save(records) {
        await Promise.resolve()
        device.records = structuredClone([...records])
      },
    },
  }
  const outbox = new Outbox(options)
  /** Each report as `id:state`, in order. */
  const states = () => deliveries.map((event) => `${event.id}:${event.state}`)
  return {
    outbox,
    /** Another session of this device: a new outbox over the same group, wire and store. */
    restarted: () => new Outbox(options),
    sent,
    device,
    savedFirst,
    keptFirst,
    deliveries,
    states,
    link,
    trust,
    time,
    commit,
    alice,
    replaceGroup: (next: ClientState) => {
      group = next
    },
    leave: () => {
      kept = group
      group = undefined
    },
    rejoin: () => {
      group = kept
    },
    /** Another group, as after the room's group ended and a new one was founded. */
    async refound() {
      const other = await createMlsMember('alice')
      await other.found()
      group = other.state
    },
  }
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
    expect(outbox.takeOwn(sent[1] as string)).toMatchObject({ kind: 'first', payload: text('two') })
    expect(outbox.takeOwn(sent[1] as string)).toBeUndefined()
    expect(outbox.unacknowledged).toBe(2)
  })

  test('encrypts nothing while our own commit is in flight, then in the epoch it made', async () => {
    const { outbox, sent, commit, alice, replaceGroup } = await outboxInGroup()
    const bob = await createMlsMember('bob')
    const adding = await alice.commit({ add: [await bob.keyPackage()] })
    commit.inFlight = Promise.withResolvers<void>()
    const sending = outbox.send(text('late'))
    await settle()
    // Encrypted now, it would be in the epoch the commit ends: bob, whom it adds, could not read it.
    expect(sent).toEqual([])
    adding.merge()
    await bob.join(adding.welcome as string)
    replaceGroup(alice.state as ClientState)
    commit.inFlight.resolve()
    commit.inFlight = undefined
    await sending
    expect(sent).toHaveLength(1)
    const read = await decryptMessage(bob.state as ClientState, decodeBase64url(sent[0] as string))
    expect(decodePayload(read.plaintext)).toMatchObject({
      ok: true,
      payload: text('late'),
    })
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
    const big = (id: string) => ({ kind: 'text' as const, id, text: 'x'.repeat(16_000) })
    // Each is about 16.6 KB on the wire: two fit the burst, the third waits ~0.32 s on the clock.
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

  test('reports each message pending at once, and sent when the log shows it, after its event', async () => {
    const { outbox, sent, states, deliveries, time } = await outboxInGroup()
    outbox.adopt({
      maxFileBytes: 1024,
      rate: { perSecond: 1, burst: 1 },
      bytes: { perSecond: 1_000_000, burst: 1_000_000 },
    })
    void outbox.send(text('one'))
    void outbox.send(text('two'))
    // Both are pending before either is encrypted: the second waits on the clock for its turn.
    expect(states()).toEqual(['one:pending', 'two:pending'])
    await until(() => sent.length === 1 && time.waiting() === 1)
    const echo = outbox.takeOwn(sent[0] as string)
    expect(echo).toMatchObject({ kind: 'first', sent: { id: 'one', state: 'sent' } })
    // The reader emits it after the message event; the outbox does not report it twice.
    expect(states()).toEqual(['one:pending', 'two:pending'])
    expect(deliveries[0]).toEqual({
      type: 'delivery',
      id: 'one',
      state: 'pending',
      at: 0,
      content: { kind: 'text', text: 'one' },
    })
    time.advance(2000)
    await until(() => sent.length === 2)
    expect(outbox.unacknowledged).toBe(1)
  })

  test('a refusal fails what is on the wire; retry sends it anew, and a late copy counts once', async () => {
    const { outbox, sent, states } = await outboxInGroup()
    await outbox.send(text('one'))
    await outbox.send(text('two'))
    outbox.takeOwn(sent[0] as string)
    outbox.refused('the server refused it: try again')
    expect(states()).toEqual(['one:pending', 'two:pending', 'two:failed'])
    // Nothing pending is left to wait for, though it is not acknowledged.
    await outbox.settled()
    expect(outbox.unacknowledged).toBe(1)

    await outbox.retry('two')
    expect(states().slice(3)).toEqual(['two:pending'])
    const [, first, again] = sent
    expect([sent.length, again === first]).toEqual([3, false])
    // The first copy was logged after all: that is the acknowledgement; the second is a copy.
    expect(outbox.takeOwn(first as string)).toMatchObject({ kind: 'first', sent: { id: 'two' } })
    expect(outbox.takeOwn(again as string)).toEqual({ kind: 'again' })
    expect(outbox.unacknowledged).toBe(0)
    await expect(outbox.retry('two')).rejects.toMatchObject({ code: 'unknown_message' })
  })

  test('a failed message seen in the log later is sent after all', async () => {
    const { outbox, sent, deliveries, states } = await outboxInGroup()
    await outbox.send(text('late'))
    outbox.refused('the server refused it: try again')
    expect(deliveries.at(-1)).toMatchObject({
      state: 'failed',
      reason: 'the server refused it: try again',
    })
    expect(outbox.takeOwn(sent[0] as string)).toMatchObject({ sent: { state: 'sent' } })
    expect(states()).toEqual(['late:pending', 'late:failed'])
    expect(outbox.unacknowledged).toBe(0)
  })

  test('keeps each ratchet step on the device before its ciphertext leaves, or sends nothing', async () => {
    const { outbox, sent, device, savedFirst, states, deliveries } = await outboxInGroup()
    await Promise.all(['one', 'two', 'three'].map((id) => outbox.send(text(id))))
    expect(savedFirst).toEqual([true, true, true])
    device.failing = true
    await expect(outbox.send(text('four'))).rejects.toMatchObject({ code: 'send_failed' })
    expect(sent).toHaveLength(3)
    expect(states().slice(-2)).toEqual(['four:pending', 'four:failed'])
    expect(deliveries.at(-1)?.reason).toBe('it could not be saved on this device: the disk is full')
    device.failing = false
    await outbox.retry('four')
    expect(sent).toHaveLength(4)
    expect(savedFirst.at(-1)).toBe(true)
  })

  test('keeps what is on its way on the device, its ciphertext before it leaves, until the log shows it', async () => {
    const { outbox, sent, device, keptFirst } = await outboxInGroup()
    await outbox.restore()
    await outbox.send(text('one'))
    expect(keptFirst).toEqual([true])
    expect(device.records).toMatchObject([
      { id: 'one', state: 'pending', made: { ciphertext: sent[0] } },
    ])
    outbox.takeOwn(sent[0] as string)
    // Written by the time `kept` resolves (a client waits for it before it exits).
    await outbox.kept()
    expect(device.records).toEqual([])
  })

  test('takes back what a session before kept: shown first, sent as it was, or encrypted once the log is read', async () => {
    const { outbox, restarted, sent, device, link, deliveries } = await outboxInGroup()
    await outbox.restore()
    link.open = false
    await outbox.send(text('encrypted'))
    const made = device.records[0]?.made?.ciphertext
    // As a crash can leave them: one never encrypted, one the server had refused.
    const left = [
      ...device.records,
      recordOf({ payload: text('plain'), at: 5, state: 'pending', onWire: false }),
      recordOf({ payload: text('refused'), at: 6, state: 'failed', reason: 'no', onWire: false }),
    ]
    device.records = left
    deliveries.length = 0
    link.open = true

    const later = restarted()
    await later.restore()
    const shown = () => deliveries.map((event) => `${event.id}:${event.state}`)
    expect(shown()).toEqual(['encrypted:pending', 'plain:pending', 'refused:failed'])
    const sending = later.send(text('new'))
    // The log is read first (the engine replays it on connecting): nothing goes meanwhile.
    later.catchUp()
    await settle()
    expect(sent).toEqual([])
    // It shows the encrypted one: sent, and never sent again.
    expect(later.takeOwn(made as string)).toMatchObject({
      kind: 'first',
      payload: text('encrypted'),
    })
    later.caughtUp()
    later.resend()
    await sending
    await until(() => sent.length === 2)
    const payloads = await Promise.all(sent.map((ciphertext) => later.takeOwn(ciphertext)))
    // The one typed while the log was read was on its way first.
    expect(payloads.map((echo) => echo?.kind === 'first' && echo.payload.id)).toEqual([
      'new',
      'plain',
    ])
    expect(later.unacknowledged).toBe(1)
    await until(() => device.records.map((record) => record.id).join() === 'refused')
  })

  test('what a session before never encrypted goes once the group is joined, with no log to read', async () => {
    const { restarted, sent, device } = await outboxInGroup()
    device.records = [recordOf({ payload: text('plain'), at: 5, state: 'pending', onWire: false })]
    const later = restarted()
    await later.restore()
    await settle()
    expect(sent).toEqual([])
    // A Welcome, not a resume: `joined` calls resend, and nothing calls catchUp.
    later.resend()
    await until(() => sent.length === 1)
    expect(later.takeOwn(sent[0] as string)).toMatchObject({ payload: text('plain') })
    await until(() => device.records.length === 0)
    await later.send(text('after'))
    expect(sent).toHaveLength(2)
  })

  test('a message that cannot be encrypted fails with the reason, and goes once retried', async () => {
    const { outbox, sent, states, deliveries, time, leave, rejoin } = await outboxInGroup()
    outbox.adopt({
      maxFileBytes: 1024,
      rate: { perSecond: 1, burst: 1 },
      bytes: { perSecond: 1_000_000, burst: 1_000_000 },
    })
    await outbox.send(text('first'))
    const second = outbox.send(text('second'))
    await until(() => time.waiting() === 1)
    // The group is gone before its turn comes.
    leave()
    time.advance(2000)
    await expect(second).rejects.toMatchObject({ code: 'send_failed' })
    expect(states()).toEqual(['first:pending', 'second:pending', 'second:failed'])
    expect(deliveries.at(-1)?.reason).toBe('it could not be encrypted: not in the group')
    await expect(outbox.retry('second')).rejects.toMatchObject({ code: 'not_in_group' })
    expect(states()).toHaveLength(3)
    rejoin()
    time.advance(2000)
    await outbox.retry('second')
    expect(states().slice(3)).toEqual(['second:pending'])
    expect(sent).toHaveLength(2)
  })

  test('after a lost connection it sends the pending again, not the failed, and fails what the group can no longer read', async () => {
    const { outbox, sent, states, link, refound } = await outboxInGroup()
    link.open = false
    await outbox.send(text('offline'))
    expect(sent).toEqual([])
    link.open = true
    await outbox.send(text('refused'))
    outbox.refused('the server refused it: try again')
    outbox.offline()
    outbox.resend()
    expect(sent).toHaveLength(2)
    expect(outbox.takeOwn(sent[1] as string)).toMatchObject({ sent: { id: 'offline' } })

    await outbox.retry('refused')
    outbox.offline()
    await refound()
    outbox.resend()
    expect(states()).toEqual([
      'offline:pending',
      'refused:pending',
      'refused:failed',
      'refused:pending',
      'refused:failed',
    ])
    expect(sent).toHaveLength(3)
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
