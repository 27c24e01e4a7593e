import { describe, expect, test } from 'bun:test'
import type { MessageEvent } from '../../shared/client/events.ts'
import { type EarlierFormat, earlierLines, holdSurface } from './earlier.ts'
import { formatEvent } from './format.ts'

const DAY = 24 * 60 * 60 * 1000

function message(n: number, at: number): MessageEvent {
  return { type: 'message', id: `m${n}`, seq: n, at, from: 'bob', own: false, text: `text ${n}` }
}

const options: EarlierFormat = {
  format: (event) => formatEvent(event, { color: false, clock: (at) => `t${at % DAY}` }),
  notice: (text: string) => `-- ${text}`,
  dayOf: (at) => `day ${Math.floor(at / DAY)}`,
}

describe('earlier messages in the terminal', () => {
  test('come between two separators, with a line for each new day', () => {
    const events = [message(1, 3 * DAY + 1), message(2, 3 * DAY + 2), message(3, 4 * DAY + 3)]
    expect(earlierLines(events, options)).toEqual([
      '-- earlier messages on this device',
      '-- day 3',
      't1 bob: text 1',
      't2 bob: text 2',
      '-- day 4',
      't3 bob: text 3',
      '-- new session',
    ])
  })

  test('print nothing at all when nothing was kept', () => {
    expect(earlierLines([], options)).toEqual([])
  })

  test('go before whatever the live chat printed while they loaded', async () => {
    const printed: string[] = []
    const held = holdSurface({ print: (text) => printed.push(text), confirm: async () => true })
    held.surface.print('live 1')
    expect(printed).toEqual([])
    // A question is the user's to answer now, never held back.
    expect(await held.surface.confirm('sure?')).toBe(true)
    held.release(['earlier 1', 'earlier 2'])
    held.surface.print('live 2')
    expect(printed).toEqual(['earlier 1', 'earlier 2', 'live 1', 'live 2'])
  })
})
