import { describe, expect, test } from 'bun:test'
import { createFrameDecoder } from '../../../shared/protocol/framing.ts'
import { TurnWriter, type WritableTlsSocket } from './tls-writes.ts'

/** A socket that takes up to `room` bytes per write while open, and remembers each write. */
function socketTaking(room = Number.POSITIVE_INFINITY) {
  const writes: Uint8Array[] = []
  const socket: WritableTlsSocket & { writes: Uint8Array[]; room: number } = {
    data: { queue: [], queuedBytes: 0, blocked: false, scheduled: false },
    writes,
    room,
    write(bytes) {
      const taken = Math.min(bytes.length, this.room)
      writes.push(bytes)
      return taken
    },
  }
  return socket
}

/** The frames in `bytes`, as text. */
function framesIn(bytes: Uint8Array): string[] {
  return createFrameDecoder(1024)
    .push(bytes)
    .frames.map((body) => new TextDecoder().decode(body))
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('TurnWriter', () => {
  test('writes a turn’s frames to each socket in one write, the same buffer for sockets that got the same frames', async () => {
    const writer = new TurnWriter()
    const [one, two] = [socketTaking(), socketTaking()]
    for (const text of ['a', 'bb']) {
      for (const socket of [one, two]) writer.queue(socket, text, 1024)
    }
    expect(one.writes).toEqual([])
    await turn()
    expect(one.writes).toHaveLength(1)
    expect(one.writes[0]).toBe(two.writes[0] as Uint8Array)
    expect(framesIn(one.writes[0] as Uint8Array)).toEqual(['a', 'bb'])
  })

  test('keeps what a socket did not take until it drains, and writes nothing meanwhile', async () => {
    const writer = new TurnWriter()
    const socket = socketTaking(3)
    writer.queue(socket, 'hello', 1024)
    await turn()
    expect(socket.data).toMatchObject({ blocked: true, queuedBytes: 6 })
    writer.queue(socket, 'more', 1024)
    await turn()
    expect(socket.writes).toHaveLength(1)
    socket.room = Number.POSITIVE_INFINITY
    writer.drained(socket)
    expect(socket.writes).toHaveLength(2)
    expect(socket.data).toMatchObject({ blocked: false, queuedBytes: 0 })
    // What the socket took of the first write, then the second: each frame once, in order.
    const [first, second] = socket.writes as [Uint8Array, Uint8Array]
    const onTheWire = new Uint8Array([...first.subarray(0, 3), ...second])
    expect(framesIn(onTheWire)).toEqual(['hello', 'more'])
  })

  test('frames a turn of binary frames once for all sockets that got them, each behind its length', async () => {
    const writer = new TurnWriter()
    const sockets = [socketTaking(), socketTaking(), socketTaking()]
    const frames = [Uint8Array.of(1, 2, 3), Uint8Array.of(4), new Uint8Array(300).fill(9)]
    for (const frame of frames) for (const socket of sockets) writer.queue(socket, frame, 1024)
    // One socket also gets a frame the others do not: its write is its own.
    writer.queue(sockets[2] as ReturnType<typeof socketTaking>, 'x', 1024)
    await turn()
    const [one, two, three] = sockets.map((socket) => socket.writes[0] as Uint8Array)
    expect(one).toBe(two as Uint8Array)
    expect(three).not.toBe(one as Uint8Array)
    const decoded = createFrameDecoder(1024).push(three as Uint8Array).frames
    expect(decoded).toEqual([...frames, Uint8Array.of(120)])
    expect(one?.length).toBe(3 * 4 + 3 + 1 + 300)
  })

  test('says so when a socket’s queue passes the cap', () => {
    const writer = new TurnWriter()
    const socket = socketTaking()
    expect(writer.queue(socket, 'x'.repeat(10), 14)).toBe(true)
    expect(writer.queue(socket, 'y', 14)).toBe(false)
  })
})
