import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { visibleChar, visibleText } from './visible-text.ts'

describe('visibleChar', () => {
  test('shows C0 and C1 controls and DEL as \\xNN, as the terminal does', () => {
    expect(visibleChar('\x00')).toBe('\\x00')
    expect(visibleChar('\x07')).toBe('\\x07')
    expect(visibleChar('\x1b')).toBe('\\x1b')
    expect(visibleChar('\x1f')).toBe('\\x1f')
    expect(visibleChar('\x7f')).toBe('\\x7f')
    expect(visibleChar('\x9b')).toBe('\\x9b')
    expect(visibleChar('\x9f')).toBe('\\x9f')
  })

  test('leaves the printable neighbours of those ranges alone', () => {
    for (const char of [' ', '~', '\xa0', 'é', '😀']) expect(visibleChar(char)).toBe(char)
  })

  test('shows characters that reorder text as \\uNNNN', () => {
    expect(visibleChar('\u202e')).toBe('\\u202e')
    expect(visibleChar('\u2066')).toBe('\\u2066')
    expect(visibleChar('\u061c')).toBe('\\u061c')
    expect(visibleChar('\u2028')).toBe('\\u2028')
  })
})

describe('visibleText', () => {
  test('keeps newlines and tabs, joins CR LF into one line break, and escapes the rest', () => {
    expect(visibleText('bell\x07\tesc\x1b[31m\r\nevil\u202etxt.exe\rlone\n')).toBe(
      'bell\\x07\tesc\\x1b[31m\nevil\\u202etxt.exe\\x0dlone\n',
    )
  })

  test('leaves no control or reordering character but newline and tab in anything', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        // \p{Cc} is C0, DEL and C1: every control.
        expect(visibleText(text).replace(/[\n\t]/g, '')).not.toMatch(
          /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u,
        )
      }),
    )
  })
})
