import { describe, expect, test } from 'bun:test'
import type { ClientFrame, ErrorCode, LeaveReason } from '../../../shared/protocol/frames.ts'
import type { Connection } from '../room/ports.ts'
import type { Room } from '../room/room.ts'
import { ConnectionEdge } from './connection-edge.ts'

/** An edge opened on a room that records what its session was told. */
function openEdge() {
  const told: Array<
    { receive: ClientFrame } | { reject: ErrorCode } | { fail: ErrorCode } | { closed: LeaveReason }
  > = []
  const room = {
    open: () => ({
      receive: (frame: ClientFrame) => told.push({ receive: frame }),
      reject: (code: ErrorCode) => told.push({ reject: code }),
      fail: (code: ErrorCode) => told.push({ fail: code }),
      closed: (reason: LeaveReason) => told.push({ closed: reason }),
    }),
  } as unknown as Room
  const edge = new ConnectionEdge('test-1', '127.0.0.1')
  edge.open(room, {} as Connection)
  return { edge, told }
}

describe('ConnectionEdge', () => {
  test('decodes each frame once into receive, or reject with the decoder’s code', () => {
    const { edge, told } = openEdge()
    edge.frame('{"type":"ping"}')
    edge.frame('{"type":')
    edge.frame('{"type":"nonsense"}')
    expect(told).toEqual([
      { receive: { type: 'ping' } },
      { reject: 'bad_json' },
      { reject: 'bad_frame' },
    ])
  })

  test('refuses bytes that are neither UTF-8 JSON nor a binary frame as a bad frame', () => {
    const { edge, told } = openEdge()
    edge.body(new Uint8Array([0xff, 0xfe]))
    edge.body(new TextEncoder().encode('{"type":"leave"}'))
    expect(told).toEqual([{ reject: 'bad_frame' }, { receive: { type: 'leave' } }])
  })

  test('tells a binary body from JSON by its first byte, and decodes it to the same frame', () => {
    const { edge, told } = openEdge()
    edge.body(new Uint8Array([0x01, 1, 2, 3]))
    edge.body(new TextEncoder().encode('{"type":"app","ciphertext":"AQID"}'))
    edge.body(new Uint8Array([0x02, 0, 0]))
    expect(told).toEqual([
      { receive: { type: 'app', ciphertext: 'AQID' } },
      { receive: { type: 'app', ciphertext: 'AQID' } },
      { reject: 'bad_frame' },
    ])
  })

  test('reads nothing more once closing, and says why the member left', () => {
    const { edge, told } = openEdge()
    edge.close('dropped')
    edge.frame('{"type":"ping"}')
    edge.fail('frame_too_large', 'too big')
    edge.gone('disconnect')
    expect(told).toEqual([{ closed: 'dropped' }])

    const quiet = openEdge()
    quiet.edge.gone('timeout')
    expect(quiet.told).toEqual([{ closed: 'timeout' }])
  })
})
