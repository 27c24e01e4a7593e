import { describe, expect, test } from 'bun:test'
import { previewText } from './format.ts'

const encoder = new TextEncoder()

describe('previewText', () => {
  test('shows control bytes as the terminal does, never as empty boxes', () => {
    const bytes = encoder.encode('bell\x07 \x1b[31mred\x1b[0m\r\nrlo\u202etxt.exe\ttab\n')
    expect(previewText(bytes)).toEqual({
      text: 'bell\\x07 \\x1b[31mred\\x1b[0m\nrlo\\u202etxt.exe\ttab\n',
      more: false,
    })
  })

  test('stops after 8 lines and says more follows', () => {
    const lines = Array.from({ length: 12 }, (_, index) => `line ${index + 1}`).join('\n')
    const preview = previewText(encoder.encode(lines))
    expect(preview.text.split('\n')).toHaveLength(8)
    expect(preview.more).toBe(true)
  })
})
