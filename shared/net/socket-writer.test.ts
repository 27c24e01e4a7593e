import { describe, expect, test } from 'bun:test'
import { SocketWriter } from './socket-writer.ts'

/** A socket that takes at most `room` bytes until the test gives it more. */
function narrowSocket(room: number) {
  const taken: number[] = []
  let free = room
  return {
    taken,
    socket: {
      write(bytes: Uint8Array) {
        const count = Math.min(free, bytes.length)
        free -= count
        taken.push(...bytes.subarray(0, count))
        return count
      },
    },
    give(bytes: number) {
      free += bytes
    },
  }
}

const bytes = (...values: number[]) => new Uint8Array(values)

describe('SocketWriter', () => {
  test('writes at once while the socket takes everything', () => {
    const { socket, taken } = narrowSocket(10)
    const writer = new SocketWriter(socket)
    writer.write(bytes(1, 2))
    writer.write(bytes(3))
    expect(taken).toEqual([1, 2, 3])
    expect(writer.backlogged).toBe(false)
  })

  test('keeps what the socket could not take, and later writes behind it, until drain', () => {
    const narrow = narrowSocket(3)
    const writer = new SocketWriter(narrow.socket)
    writer.write(bytes(1, 2, 3, 4, 5))
    writer.write(bytes(6))
    expect(narrow.taken).toEqual([1, 2, 3])
    expect([writer.backlogged, writer.queuedBytes]).toEqual([true, 3])
    narrow.give(2)
    writer.drain()
    expect(narrow.taken).toEqual([1, 2, 3, 4, 5])
    expect(writer.queuedBytes).toBe(1)
    narrow.give(10)
    writer.drain()
    expect(narrow.taken).toEqual([1, 2, 3, 4, 5, 6])
    expect([writer.backlogged, writer.queuedBytes]).toEqual([false, 0])
  })

  test('a closed socket (negative write) keeps everything queued', () => {
    const writer = new SocketWriter({ write: () => -1 })
    writer.write(bytes(1, 2))
    writer.drain()
    expect(writer.queuedBytes).toBe(2)
  })
})
