import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import type { ChatEvent } from '../../shared/client/events.ts'
import { colorOf, formatEvent, formatEventJson } from './format.ts'
import { neutralize, neutralizeLine } from './neutralize.ts'

const plain = { color: false, clock: () => '12:34' }

/** Code points a terminal acts on (newline aside), or that reorder text. */
function actionable(text: string): number[] {
  return [...text]
    .map((char) => char.codePointAt(0) as number)
    .filter(
      (code) =>
        (code < 0x20 && code !== 0x0a) ||
        (code >= 0x7f && code <= 0x9f) ||
        (code >= 0x202a && code <= 0x202e) ||
        (code >= 0x2066 && code <= 0x2069) ||
        code === 0x200e ||
        code === 0x200f ||
        code === 0x061c ||
        code === 0x2028 ||
        code === 0x2029,
    )
}

describe('neutralize', () => {
  test('shows escapes and controls as text and keeps newlines', () => {
    expect(neutralize('\x1b[31mred\x1b[0m')).toBe('\\x1b[31mred\\x1b[0m')
    expect(neutralize('bell\x07 nul\x00 del\x7f c1\x9b')).toBe(
      'bell\\x07 nul\\x00 del\\x7f c1\\x9b',
    )
    expect(neutralize('a\u202Eb')).toBe('a\\u202eb')
    expect(neutralize('two\nlines\tand tab')).toBe('two\nlines  and tab')
  })

  test('leaves no byte that a terminal would act on, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(actionable(neutralize(text))).toEqual([])
      }),
      { numRuns: 300 },
    )
  })

  test('shows every bidi control, marks and the Arabic letter mark included', () => {
    expect(neutralize('a\u200eb\u200fc\u061cd\u2066e\u2069f')).toBe(
      'a\\u200eb\\u200fc\\u061cd\\u2066e\\u2069f',
    )
  })
})

describe('neutralizeLine', () => {
  test('shows a newline and a carriage return as text, so one line stays one line', () => {
    expect(neutralizeLine('notes\n06:04 alice: hi\r.txt')).toBe('notes\\n06:04 alice: hi\\x0d.txt')
    expect(neutralizeLine('a\u2028b\u202ec')).toBe('a\\u2028b\\u202ec')
  })

  test('never yields a line break or a byte a terminal would act on, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const shown = neutralizeLine(text)
        expect(shown.includes('\n')).toBe(false)
        expect(actionable(shown)).toEqual([])
      }),
      { numRuns: 300 },
    )
  })
})

describe('formatEvent', () => {
  test('a message has the time, the sender and the text, continuation lines indented', () => {
    const line = formatEvent(
      { type: 'message', id: 'a', seq: 1, at: 0, from: 'bob', own: false, text: 'one\ntwo' },
      plain,
    )
    expect(line).toBe('12:34 bob: one\n           two')
  })

  test('a forged sender claim is shown beside the authenticated one', () => {
    const line = formatEvent(
      {
        type: 'message',
        id: 'a',
        seq: 1,
        at: 0,
        from: 'alice',
        own: false,
        text: 'hi',
        claimedBy: 'bob',
      },
      plain,
    )
    expect(line).toBe('12:34 alice: hi !! (server said bob)')
  })

  test('names get a stable colour when colour is on', () => {
    expect(colorOf('Alice')).toBe(colorOf('alice'))
    const line = formatEvent(
      { type: 'message', id: 'a', seq: 1, at: 0, from: 'bob', own: false, text: 'x' },
      { color: true, clock: () => '12:34' },
    )
    expect(line).toContain(`\x1b[1;${colorOf('bob')}mbob\x1b[0m`)
  })

  test('colour adds nothing the words do not say: without it every line reads the same', () => {
    const events: ChatEvent[] = [
      { type: 'message', id: 'a', seq: 1, at: 0, from: 'bob', own: false, text: 'hi' },
      { type: 'presence', event: 'join', name: 'bob', at: 0 },
      { type: 'key-change', name: 'bob', previousKey: 'a', newKey: 'b' },
      { type: 'warning', code: 'group_integrity', message: 'a forged Welcome' },
      { type: 'error', code: 'rate_limited', message: 'slow down', fatal: false },
      { type: 'status', status: 'reconnecting' },
    ]
    const sgr = new RegExp(`${'\u001b'}\\[[0-9;]*m`, 'g')
    for (const event of events) {
      const colored = formatEvent(event, { ...plain, color: true }) ?? ''
      expect(colored).toMatch(sgr)
      expect(colored.replace(sgr, '')).toBe(formatEvent(event, plain) ?? '')
    }
    // The marks that colour would tell apart say it in words too.
    expect(formatEvent(events[2] as ChatEvent, plain)).toStartWith('!! the key of bob CHANGED')
    expect(formatEvent(events[3] as ChatEvent, plain)).toStartWith('!! SECURITY:')
    expect(formatEvent(events[1] as ChatEvent, plain)).toBe('-- bob joined')
  })

  test('presence, key changes and errors read as notices', () => {
    expect(
      formatEvent(
        { type: 'presence', event: 'leave', name: 'bob', at: 0, reason: 'timeout' },
        plain,
      ),
    ).toBe('-- bob left (timeout)')
    expect(
      formatEvent({ type: 'key-change', name: 'bob', previousKey: 'a', newKey: 'b' }, plain),
    ).toContain('/trust bob')
    expect(
      formatEvent(
        { type: 'error', code: 'rate_limited', message: 'slow down', fatal: false },
        plain,
      ),
    ).toBe('!! server: slow down (rate_limited)')
  })

  test('a name, a file name, an error or a warning from someone else is one line', () => {
    const forged = '\n06:04 SYSTEM: type /file ~/.ssh/id_ed25519'
    const events: ChatEvent[] = [
      { type: 'presence', event: 'join', name: `eve${forged}`, at: 0 },
      { type: 'key-change', name: `eve${forged}`, previousKey: 'a', newKey: 'b' },
      { type: 'error', code: 'rate_limited', message: `slow${forged}`, fatal: false },
      { type: 'warning', code: 'protocol', message: `odd${forged}` },
      { type: 'warning', code: 'group_integrity', message: `odd${forged}` },
      { type: 'warning', code: 'history_unreadable', message: `odd${forged}` },
      { type: 'status', status: 'reconnecting', detail: `lost${forged}` },
      {
        type: 'file',
        id: 'f',
        seq: 1,
        at: 0,
        from: 'bob',
        own: false,
        name: `notes${forged}.txt`,
        size: 1,
        truncated: false,
        sha256: '',
        bytes: new Uint8Array(1),
        claimedBy: `mallory${forged}`,
      },
      {
        type: 'message',
        id: 'm',
        seq: 2,
        at: 0,
        from: `bob${forged}`,
        own: false,
        text: 'hi',
        claimedBy: `mallory${forged}`,
      },
    ]
    for (const event of events) {
      const shown = formatEvent(event, plain) ?? ''
      expect(shown).toContain('\\n06:04 SYSTEM')
      expect(shown.includes('\n')).toBe(false)
    }
  })

  test('a refused commit or Welcome is a security warning, its text made harmless', () => {
    expect(
      formatEvent(
        {
          type: 'warning',
          code: 'group_integrity',
          message: 'refused the Welcome: the group holds bob\x1b[2J',
        },
        plain,
      ),
    ).toBe(
      '!! SECURITY: refused the Welcome: the group holds bob\\x1b[2J; nothing of it was applied',
    )
  })
})

describe('formatEventJson', () => {
  test('escapes C1 and bidi controls too, and still parses to the same event', () => {
    const event: ChatEvent = {
      type: 'message',
      id: 'a',
      seq: 1,
      at: 0,
      from: 'bob',
      own: false,
      text: 'csi\u009b2J rtl\u202e mark\u200f esc\x1b',
    }
    const line = formatEventJson(event)
    expect(actionable(line)).toEqual([])
    expect(JSON.parse(line)).toEqual(event)
  })
})
