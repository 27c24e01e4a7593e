import { describe, expect, test } from 'bun:test'
import * as v from 'valibot'
import { frameOf } from '../../../tests/support/wire.ts'
import {
  decodeLogEntry,
  HashValuesReply,
  IntegerReply,
  parseReply,
  StreamsReply,
} from './replies.ts'

const entry = (id: string, text: string): [string, string[]] => [id, ['f', text]]

describe('Redis replies', () => {
  test('reads XREAD as a map of stream to entries in RESP3, as pairs in RESP2, and null as none', () => {
    const events = [entry('1-0', '{"type":"leader","instance":"a"}')]
    const log = [entry('7-0', '{"seq":7}')]
    const expected = new Map([
      ['chatbox:events', events],
      ['chatbox:log', log],
    ])
    expect(v.parse(StreamsReply, { 'chatbox:events': events, 'chatbox:log': log })).toEqual(
      expected,
    )
    expect(
      v.parse(StreamsReply, [
        ['chatbox:events', events],
        ['chatbox:log', log],
      ]),
    ).toEqual(expected)
    expect(v.parse(StreamsReply, null)).toEqual(new Map())
  })

  test('refuses an XREAD reply of another shape', () => {
    expect(v.safeParse(StreamsReply, { 'chatbox:log': [['7-0', 'f']] }).success).toBe(false)
    expect(v.safeParse(StreamsReply, 'OK').success).toBe(false)
  })

  test('reads the values of HGETALL in either protocol, names like constructor included', () => {
    const record = '{"name":"constructor"}'
    expect(v.parse(HashValuesReply, { constructor: record, bob: '{}' })).toEqual([record, '{}'])
    expect(v.parse(HashValuesReply, ['constructor', record, 'bob', '{}'])).toEqual([record, '{}'])
    expect(v.parse(HashValuesReply, {})).toEqual([])
  })

  test('takes a log entry’s sequence number from its id and its frame from its one field', () => {
    // A control frame stays JSON; a frame carrying MLS bytes goes on the wire as binary.
    expect(decodeLogEntry(entry('12-0', '{"seq":12}'))).toEqual({ seq: 12, wire: '{"seq":12}' })
    const app = { type: 'app', from: 'alice', at: 5, ciphertext: 'AQID', seq: 13 } as const
    const decoded = decodeLogEntry(entry('13-0', JSON.stringify(app)))
    expect(decoded.seq).toBe(13)
    expect(decoded.wire).toBeInstanceOf(Uint8Array)
    expect(frameOf(decoded.wire)).toEqual(app)
  })

  test('names the command whose reply was not what it should be', () => {
    expect(() => parseReply(IntegerReply, 'OK', 'HSETNX')).toThrow(
      'Redis answered HSETNX unexpectedly',
    )
  })
})
