import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test'
import * as v from 'valibot'
import { createEventLog, formatEvent } from './event-log.ts'
import { errorEvent, type ServerEvent, ServerEventSchema } from './events.ts'

const AT = Date.UTC(2026, 11, 1, 10, 0, 0)

beforeEach(() => {
  jest.useFakeTimers()
  jest.setSystemTime(AT)
})

afterEach(() => {
  jest.useRealTimers()
})

const JOIN: ServerEvent = { event: 'join', name: 'alice', transport: 'tls' }
const REFUSED: ServerEvent = {
  event: 'refused',
  code: 'bad_frame',
  fatal: false,
  transport: 'wss',
  address: '192.0.2.7',
}

/** A log on the fake clock whose lines the test reads. */
function logInto(format: 'text' | 'json', linesPerSecond?: number) {
  const lines: string[] = []
  const log = createEventLog({ format, write: (line) => lines.push(line), linesPerSecond })
  return { lines, log }
}

const LineSchema = v.intersect([
  v.object({ at: v.pipe(v.string(), v.isoTimestamp()) }),
  ServerEventSchema,
])

describe('formatEvent', () => {
  test('writes json as one object with at, event and the fields', () => {
    const line = formatEvent(JOIN, AT, 'json')
    expect(line).toBe(
      '{"at":"2026-12-01T10:00:00.000Z","event":"join","name":"alice","transport":"tls"}',
    )
    expect(v.parse(LineSchema, JSON.parse(line))).toEqual({
      at: '2026-12-01T10:00:00.000Z',
      ...JOIN,
    })
  })

  test('writes text as the time, the event and key=value pairs', () => {
    expect(formatEvent(REFUSED, AT, 'text')).toBe(
      '2026-12-01T10:00:00.000Z refused code=bad_frame fatal=false transport=wss address=192.0.2.7',
    )
  })

  test('quotes a text value with spaces or line breaks, so one event stays one line', () => {
    const error: ServerEvent = {
      event: 'error',
      where: 'store',
      error: 'Error',
      detail: 'a "b"\nc',
    }
    const line = formatEvent(error, AT, 'text')
    expect(line.split('\n')).toHaveLength(1)
    expect(line).toEndWith(' detail="a \\"b\\"\\nc"')
  })
})

describe('errorEvent', () => {
  test('keeps the class, code and first line of an error, with long base64url runs cut out', () => {
    const key = 'A'.repeat(43)
    const error = Object.assign(new Error(`bad key ${key} from alice\nsecond line`), {
      code: 'ERR_REDIS_CONNECTION_CLOSED',
    })
    expect(errorEvent('redis', error)).toEqual({
      event: 'error',
      where: 'redis',
      error: 'Error ERR_REDIS_CONNECTION_CLOSED',
      detail: 'bad key … from alice',
    })
  })
})

describe('createEventLog', () => {
  test('writes each event as it comes, at the time it comes', () => {
    const { lines, log } = logInto('json')
    log(JOIN)
    jest.advanceTimersByTime(1500)
    log({ event: 'leave', name: 'alice', transport: 'tls', reason: 'quit' })
    expect(lines.map((line) => v.parse(LineSchema, JSON.parse(line)))).toEqual([
      { at: '2026-12-01T10:00:00.000Z', ...JOIN },
      {
        at: '2026-12-01T10:00:01.500Z',
        event: 'leave',
        name: 'alice',
        transport: 'tls',
        reason: 'quit',
      },
    ])
  })

  test('takes 20 lines of one kind a second, then writes one line that counts the rest when the second is over', () => {
    const { lines, log } = logInto('json')
    for (let event = 0; event < 1000; event += 1) log(REFUSED)
    log(JOIN)
    expect(lines).toHaveLength(21)
    jest.advanceTimersByTime(999)
    expect(lines).toHaveLength(21)
    jest.advanceTimersByTime(1)
    expect(lines).toHaveLength(22)
    expect(JSON.parse(lines.at(-1) as string)).toEqual({
      at: '2026-12-01T10:00:01.000Z',
      event: 'suppressed',
      kind: 'refused',
      count: 980,
    })
    // A new second: the kind is let through again.
    log(REFUSED)
    expect(lines).toHaveLength(23)
  })

  test('a flood that goes on for 10 s gets the lines its kind may have each second and one line counting the rest', () => {
    const { lines, log } = logInto('text', 5)
    for (let tick = 0; tick < 10_000; tick += 1) {
      for (let event = 0; event < 10; event += 1) log(REFUSED)
      jest.advanceTimersByTime(1)
    }
    expect(lines.filter((line) => line.includes(' refused '))).toHaveLength(50)
    const counted = lines
      .filter((line) => line.includes(' suppressed '))
      .map((line) => Number(/count=(\d+)/.exec(line)?.[1]))
    expect(counted).toHaveLength(10)
    expect(counted.reduce((sum, count) => sum + count, 0)).toBe(100_000 - 50)
  })

  test('writes the counts still open when flushed, as the server stops', () => {
    const { lines, log } = logInto('text', 1)
    log(JOIN)
    log(JOIN)
    log(JOIN)
    log.flush()
    expect(lines).toEqual([
      '2026-12-01T10:00:00.000Z join name=alice transport=tls',
      '2026-12-01T10:00:00.000Z suppressed kind=join count=2',
    ])
    jest.advanceTimersByTime(5000)
    expect(lines).toHaveLength(2)
  })
})
