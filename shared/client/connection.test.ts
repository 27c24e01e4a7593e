import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test'
import { decodeClientFrame, type WireFrame } from '../protocol/codec.ts'
import type { ServerFrame } from '../protocol/frames.ts'
import { ChatError } from './chat-error.ts'
import { systemClock } from './clock.ts'
import { Connection } from './connection.ts'
import { EventHub } from './event-hub.ts'
import type { ChatEvent } from './events.ts'
import { SerialQueue } from './serial-queue.ts'
import type { TransportEvents } from './transport.ts'

/** A connection over links the test opens and drops, recording what each link carried. */
function connectionUnderTest(reconnect: false | { initialMs: number; maxMs: number }) {
  const links: Array<{ events: TransportEvents; sent: WireFrame[]; closed: boolean }> = []
  const hub = new EventHub()
  const events: ChatEvent[] = []
  hub.on((event) => events.push(event))
  const received: ServerFrame[] = []
  const losses: string[] = []
  const connection = new Connection({
    async connect(transportEvents) {
      const link = { events: transportEvents, sent: [] as WireFrame[], closed: false }
      links.push(link)
      return { send: (wire) => link.sent.push(wire), close: () => (link.closed = true) }
    },
    reconnect,
    clock: systemClock,
    hub,
    queue: new SerialQueue(),
    prepare: async () => {},
    hello: () => ({ type: 'hello', name: 'alice', identityKey: 'A'.repeat(43) }),
    async receive(frame) {
      received.push(frame)
      if (frame.type === 'ready') connection.admit()
    },
    async lost(reason) {
      losses.push(reason)
    },
  })
  return { connection, links, events, received, losses }
}

const READY: ServerFrame = {
  type: 'ready',
  name: 'alice',
  head: 0,
  members: [],
  online: 1,
  next: null,
  group: null,
  limits: { maxFileBytes: 1, rate: { perSecond: 1, burst: 1 }, bytes: { perSecond: 1, burst: 1 } },
}

async function turns(): Promise<void> {
  for (let turn = 0; turn < 5; turn += 1) await Promise.resolve()
}

describe('Connection', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  test('says hello first and resolves once the server admits it', async () => {
    const { connection, links, events } = connectionUnderTest(false)
    const started = connection.start()
    await turns()
    expect(links[0]?.sent.map(typeOf)).toEqual(['hello'])
    links[0]?.events.frame(READY)
    await started
    expect(events).toEqual([{ type: 'status', status: 'connecting', detail: undefined }])
  })

  test('pings a quiet link every 25 s', async () => {
    const { connection, links } = connectionUnderTest(false)
    void connection.start()
    await turns()
    jest.advanceTimersByTime(24_999)
    expect(links[0]?.sent).toHaveLength(1)
    jest.advanceTimersByTime(1)
    expect(links[0]?.sent.map(typeOf)).toEqual(['hello', 'ping'])
  })

  test('after a loss tries again within the backoff, then lets the reconnect be stopped', async () => {
    const { connection, links, losses, events } = connectionUnderTest({
      initialMs: 100,
      maxMs: 1000,
    })
    const started = connection.start()
    await turns()
    links[0]?.events.frame(READY)
    await started
    links[0]?.events.closed('connection reset')
    await turns()
    expect(losses).toEqual(['connection reset'])
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'reconnecting' })
    // Full jitter puts the first retry between half the initial delay and all of it.
    jest.advanceTimersByTime(49)
    await turns()
    expect(links).toHaveLength(1)
    jest.advanceTimersByTime(51)
    await turns()
    expect(links).toHaveLength(2)

    links[1]?.events.closed('gone again')
    await turns()
    connection.stop()
    jest.advanceTimersByTime(10_000)
    await turns()
    expect(links).toHaveLength(2)
  })

  test('a final refusal rejects the join and ends the attempts', async () => {
    const { connection, links } = connectionUnderTest({ initialMs: 100, maxMs: 1000 })
    const started = connection.start()
    await turns()
    connection.refuse(new ChatError('refused', 'replaced', 'replaced'), true)
    await expect(started).rejects.toMatchObject({ code: 'refused', serverCode: 'replaced' })
    links[0]?.events.closed('closed by the server')
    await turns()
    jest.advanceTimersByTime(10_000)
    await turns()
    expect(links).toHaveLength(1)
    expect(connection.status).toBe('closed')
  })
})

/** The type of a frame the connection sent, as the server would decode it. */
function typeOf(wire: WireFrame): string {
  const decoded = decodeClientFrame(wire)
  return decoded.ok ? decoded.frame.type : `invalid: ${decoded.message}`
}
