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
  })

  test('says so when a socket’s queue passes the cap', () => {
    const writer = new TurnWriter()
    const socket = socketTaking()
    expect(writer.queue(socket, 'x'.repeat(10), 14)).toBe(true)
    expect(writer.queue(socket, 'y', 14)).toBe(false)
  })
})
