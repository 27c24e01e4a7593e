import { describe, expect, test } from 'bun:test'
import { filePayload, MAX_TEXT_BYTES, textPayload } from './outgoing.ts'

const utf8 = new TextEncoder()

describe('textPayload', () => {
  test('gives text a fresh id, and refuses empty or oversize text with its code', () => {
    const one = textPayload('hello')
    expect(one).toMatchObject({ kind: 'text', text: 'hello' })
    expect(textPayload('hello').id).not.toBe(one.id)
    expect(() => textPayload('  \n')).toThrow(expect.objectContaining({ code: 'empty' }))
    expect(textPayload('é'.repeat(MAX_TEXT_BYTES / 2)).kind).toBe('text')
    expect(() => textPayload(`${'é'.repeat(MAX_TEXT_BYTES / 2)}x`)).toThrow(
      expect.objectContaining({ code: 'too_long' }),
    )
  })
})

describe('filePayload', () => {
  test('sends a .txt whole with its digest, under its base name only', async () => {
    const payload = await filePayload(
      { name: '/home/me/notes.txt', bytes: utf8.encode('hi') },
      10,
      false,
    )
    expect(payload).toMatchObject({ kind: 'file', name: 'notes.txt', size: 2, truncated: false })
    expect(payload.kind === 'file' && payload.sha256).toHaveLength(64)
  })

  test('over the limit it refuses, unless asked to send the head, marked truncated', async () => {
    const file = { name: 'big.txt', bytes: utf8.encode('0123456789AB'), size: 4000 }
    await expect(filePayload(file, 10, false)).rejects.toMatchObject({ code: 'file_too_large' })
    const head = await filePayload(file, 10, true)
    expect(head).toMatchObject({ size: 4000, truncated: true })
    expect(head.kind === 'file' && head.bytes.length).toBe(10)
  })

  test('refuses what is not a text file with bad_file', async () => {
    const binary = { name: 'x.txt', bytes: new Uint8Array([0x61, 0x00, 0x62]) }
    await expect(filePayload(binary, 10, true)).rejects.toMatchObject({ code: 'bad_file' })
    await expect(
      filePayload({ name: 'x.png', bytes: utf8.encode('a') }, 10, true),
    ).rejects.toMatchObject({
      code: 'bad_file',
    })
  })
})
