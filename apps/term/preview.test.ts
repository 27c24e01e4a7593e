import { describe, expect, test } from 'bun:test'
import { PREVIEW_LINES, PREVIEW_WIDTH, previewLines } from './preview.ts'

const bytes = (text: string) => new TextEncoder().encode(text)

describe('previewLines', () => {
  test('a short file is shown whole, its last newline ending its last line', () => {
    expect(previewLines(bytes('one\ntwo\n'))).toEqual({ lines: ['one', 'two'], more: false })
    expect(previewLines(bytes('one'))).toEqual({ lines: ['one'], more: false })
    expect(previewLines(bytes(''))).toEqual({ lines: [], more: false })
  })

  test(`the first ${PREVIEW_LINES} lines, and a mark that there is more`, () => {
    const text = Array.from({ length: 10 }, (_, index) => `line ${index}`).join('\n')
    expect(previewLines(bytes(text))).toEqual({
      lines: ['line 0', 'line 1', 'line 2'],
      more: true,
    })
  })

  test('escapes and controls are shown as text; a Windows line end is dropped', () => {
    const { lines } = previewLines(bytes('red \x1b[31malert\r\n\u202Eevil\x07\r\n'))
    expect(lines).toEqual(['red \\x1b[31malert', '\\u202eevil\\x07'])
  })

  test(`a line longer than ${PREVIEW_WIDTH} characters is cut, and counts as more`, () => {
    const { lines, more } = previewLines(bytes(`${'é'.repeat(5000)}\nnext`))
    expect(lines[0]).toBe('é'.repeat(PREVIEW_WIDTH))
    expect(lines).toHaveLength(1)
    expect(more).toBe(true)
  })
})
