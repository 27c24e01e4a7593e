import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test'
import type {
  ChatEvent,
  ConnectionStatus,
  DeliveryEvent,
  MessageEvent,
} from '../../shared/client/events.ts'
import { COMMANDS, type CommandContext } from './commands.ts'
import { createDeliveryMarks, GRACE_MS } from './delivery-marks.ts'
import { formatEvent } from './format.ts'

const clock = () => '12:00'

function pending(id: string, text: string): DeliveryEvent {
  return { type: 'delivery', id, state: 'pending', at: 0, content: { kind: 'text', text } }
}

function logged(id: string, text: string): MessageEvent {
  return { type: 'message', id, seq: 4, at: 0, from: 'alice', own: true, text }
}

/** The marks with what the chat controller would print around them. */
function marksAs(
  status: ConnectionStatus,
  json?: (value: unknown) => string,
  grace: 'grace' | 'none' = 'grace',
) {
  const printed: string[] = []
  const retried: string[] = []
  const session = {
    name: 'alice',
    status,
    retry: async (id: string) => {
      retried.push(id)
      return { id }
    },
  }
  const format = (event: ChatEvent) => formatEvent(event, { color: false, clock })
  const marks = createDeliveryMarks({
    session,
    print: (text) => printed.push(text),
    format,
    notice: (text) => `-- ${text}`,
    json,
    graceMs: grace === 'grace' ? GRACE_MS : undefined,
  })
  /** What the controller does with an event: the marks first, then the usual line. */
  const show = (event: ChatEvent) => {
    if (marks.take(event)) return
    const line = format(event)
    if (line !== undefined) printed.push(line)
  }
  return { marks, show, printed, retried, session }
}

describe('marks on own messages in the terminal', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  test('a message the log shows within the grace reads like any other, once', () => {
    const { show, printed } = marksAs('ready')
    show(pending('m1', 'hello'))
    expect(printed).toEqual([])
    jest.advanceTimersByTime(GRACE_MS - 1)
    show(logged('m1', 'hello'))
    show({ ...pending('m1', 'hello'), state: 'sent' })
    jest.advanceTimersByTime(GRACE_MS)
    expect(printed).toEqual(['12:00 alice: hello'])
  })

  test('a slow one is shown on its way after the grace, then said sent, and not printed twice', () => {
    const { show, printed } = marksAs('ready')
    show(pending('m1', 'hello'))
    jest.advanceTimersByTime(GRACE_MS)
    expect(printed).toEqual(['12:00 alice: hello …'])
    show(logged('m1', 'hello'))
    show({ ...pending('m1', 'hello'), state: 'sent' })
    expect(printed).toEqual(['12:00 alice: hello …', '-- ✓ sent: "hello"'])
  })

  test('without a grace (pipe mode) a slow one still reads as one line, once the log shows it', () => {
    const { show, printed } = marksAs('ready', undefined, 'none')
    show(pending('m1', 'hello'))
    jest.advanceTimersByTime(60_000)
    expect(printed).toEqual([])
    show(logged('m1', 'hello'))
    show({ ...pending('m1', 'hello'), state: 'sent' })
    expect(printed).toEqual(['12:00 alice: hello'])
  })

  test('offline it is shown on its way at once; a failure says why and how to retry it', async () => {
    const { show, printed, marks, retried, session } = marksAs('reconnecting')
    show(pending('m1', 'first'))
    show(pending('m2', 'second\nline'))
    expect(printed).toEqual(['12:00 alice: first …', '12:00 alice: second\n             line …'])
    show({ ...pending('m2', 'second\nline'), state: 'failed', reason: 'the server said \x1b[2J' })
    expect(printed.at(-1)).toBe(
      '-- not sent: "second line" (the server said \\x1b[2J); /retry 1 sends it again',
    )
    await expect(marks.retry(2)).rejects.toThrow('no failed message 2')
    await marks.retry(1)
    expect(retried).toEqual(['m2'])
    await expect(marks.retry(1)).rejects.toThrow('no failed message 1')

    // Retried while connected, it fails again: the same number.
    session.status = 'ready'
    show(pending('m2', 'second\nline'))
    show({ ...pending('m2', 'second\nline'), state: 'failed' })
    expect(printed.at(-1)).toBe('-- not sent: "second line"; /retry 1 sends it again')
  })

  test('a message said not sent that the log shows later is said sent after all', () => {
    const { show, printed } = marksAs('ready')
    show(pending('m1', 'late'))
    show({ ...pending('m1', 'late'), state: 'failed', reason: 'refused' })
    show(logged('m1', 'late'))
    show({ ...pending('m1', 'late'), state: 'sent' })
    jest.advanceTimersByTime(GRACE_MS)
    expect(printed).toEqual([
      '-- not sent: "late" (refused); /retry 1 sends it again',
      '12:00 alice: late',
      '-- ✓ sent: "late"',
    ])
  })

  test('with --json each state is a line of its own, with the number /retry takes', () => {
    const { show, printed } = marksAs('ready', JSON.stringify)
    const bytes = new TextEncoder().encode('notes')
    const file: DeliveryEvent = {
      type: 'delivery',
      id: 'f1',
      state: 'pending',
      at: 5,
      content: { kind: 'file', name: 'a.txt', size: 5, truncated: false, sha256: 'ab', bytes },
    }
    show(file)
    show({ ...file, state: 'failed', reason: 'no' })
    expect(printed.map((line) => JSON.parse(line))).toEqual([
      {
        type: 'delivery',
        id: 'f1',
        state: 'pending',
        at: 5,
        content: { kind: 'file', name: 'a.txt', size: 5, truncated: false, sha256: 'ab' },
      },
      {
        type: 'delivery',
        id: 'f1',
        state: 'failed',
        at: 5,
        reason: 'no',
        retry: 1,
        content: { kind: 'file', name: 'a.txt', size: 5, truncated: false, sha256: 'ab' },
      },
    ])
  })

  test('/retry N is a command that takes the number', async () => {
    const asked: number[] = []
    const context = {
      deliveries: {
        retry: async (number: number) => {
          asked.push(number)
        },
      },
    } as unknown as CommandContext
    const parsed = COMMANDS.parse('/retry 3')
    if (parsed.kind !== 'command') throw new Error('not a command')
    await parsed.command.run(context, parsed.argument)
    await expect(parsed.command.run(context, 'x')).rejects.toThrow(
      '/retry takes the number a "not sent" line gave, e.g. /retry 2',
    )
    expect(asked).toEqual([3])
    expect(COMMANDS.help()).toContain('/retry N')
  })
})
