import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { checkTextFile, describeSize, sanitizeFileName, truncateUtf8 } from './files.ts'

const utf8 = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true })
const MAX = 16
const TEXT = utf8.encode('hello\n')

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes)
    return true
  } catch {
    return false
  }
}

describe('checkTextFile', () => {
  test('accepts a small UTF-8 .txt file', () => {
    expect(checkTextFile('notes.txt', utf8.encode('grüße €🙂\n'), 100)).toEqual({ ok: true })
  })

  test('accepts an empty .txt file', () => {
    expect(checkTextFile('empty.txt', new Uint8Array(), MAX)).toEqual({ ok: true })
  })

  test('accepts the extension in any case', () => {
    expect(checkTextFile('NOTES.TXT', TEXT, MAX)).toEqual({ ok: true })
    expect(checkTextFile('notes.Txt', TEXT, MAX)).toEqual({ ok: true })
  })

  test('judges only the base name of a path', () => {
    expect(checkTextFile('../../etc/passwd.txt', TEXT, MAX)).toEqual({ ok: true })
    expect(checkTextFile('C:\\dir.txt\\run.exe', TEXT, MAX)).toMatchObject({ code: 'not_txt' })
  })

  const notTxt: Array<[string, string]> = [
    ['another extension', 'notes.md'],
    ['no extension', 'notes'],
    ['.txt hidden before another extension', 'a.txt.exe'],
    ['a bidi override that shows .exe as .txt', 'evil\u202Etxt.exe'],
    ['a name that is only .txt', '.txt'],
    ['a name that is only dots and .txt', '...txt'],
    ['.txt followed by trailing dots', 'a.txt.exe...'],
  ]
  for (const [what, name] of notTxt) {
    test(`refuses ${what} as not_txt`, () => {
      expect(checkTextFile(name, TEXT, MAX)).toEqual({
        ok: false,
        code: 'not_txt',
        message: 'only .txt files can be sent',
      })
    })
  }

  const emptyNames: Array<[string, string]> = [
    ['the empty name', ''],
    ['a path ending in a separator', 'dir/'],
    ['dots only', '..'],
    ['invisible characters only', '\u200b\u202e\u0000'],
  ]
  for (const [what, name] of emptyNames) {
    test(`refuses ${what} as empty_name`, () => {
      expect(checkTextFile(name, TEXT, MAX)).toEqual({
        ok: false,
        code: 'empty_name',
        message: 'the file has no usable name',
      })
    })
  }

  test('refuses binary content with a NUL byte as has_nul', () => {
    expect(checkTextFile('x.txt', new Uint8Array([0x68, 0x00, 0x69]), MAX)).toEqual({
      ok: false,
      code: 'has_nul',
      message: 'the file contains NUL bytes: it is not text',
    })
  })

  const invalidUtf8: Array<[string, number[]]> = [
    ['a 0xff byte', [0x61, 0xff]],
    ['a multi-byte character cut short', [0xe2, 0x82]],
    ['an overlong encoding of /', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ]
  for (const [what, bytes] of invalidUtf8) {
    test(`refuses ${what} as not_utf8`, () => {
      expect(checkTextFile('x.txt', new Uint8Array(bytes), MAX)).toEqual({
        ok: false,
        code: 'not_utf8',
        message: 'the file is not valid UTF-8 text',
      })
    })
  }

  test('accepts exactly maxBytes and refuses one byte more as too_large', () => {
    expect(checkTextFile('x.txt', new Uint8Array(1024).fill(0x61), 1024)).toEqual({ ok: true })
    expect(checkTextFile('x.txt', new Uint8Array(1025).fill(0x61), 1024)).toEqual({
      ok: false,
      code: 'too_large',
      message: 'the file is 1.0 KiB, over the 1.0 KiB limit',
    })
  })

  test('reports bad content before size, so too_large always means truncation can help', () => {
    expect(checkTextFile('x.txt', new Uint8Array(100), MAX)).toMatchObject({ code: 'has_nul' })
    expect(checkTextFile('x.txt', new Uint8Array(100).fill(0xff), MAX)).toMatchObject({
      code: 'not_utf8',
    })
  })

  test('passes a too_large file once it is truncated', () => {
    const bytes = utf8.encode('€'.repeat(10))
    expect(checkTextFile('x.txt', bytes, MAX)).toMatchObject({ code: 'too_large' })
    expect(checkTextFile('x.txt', truncateUtf8(bytes, MAX), MAX)).toEqual({ ok: true })
  })
})

describe('truncateUtf8', () => {
  test('returns a copy of the bytes when they already fit', () => {
    const bytes = utf8.encode('abc')
    const result = truncateUtf8(bytes, 3)
    expect(result).toEqual(bytes)
    expect(result.buffer).not.toBe(bytes.buffer)
  })

  test('never splits a euro sign', () => {
    const bytes = utf8.encode('a€b') // 61 e2 82 ac 62
    expect(truncateUtf8(bytes, 1)).toEqual(utf8.encode('a'))
    expect(truncateUtf8(bytes, 2)).toEqual(utf8.encode('a'))
    expect(truncateUtf8(bytes, 3)).toEqual(utf8.encode('a'))
    expect(truncateUtf8(bytes, 4)).toEqual(utf8.encode('a€'))
  })

  test('never splits an emoji', () => {
    const bytes = utf8.encode('🙂🙂')
    for (const max of [0, 1, 2, 3]) expect(truncateUtf8(bytes, max)).toEqual(new Uint8Array())
    for (const max of [4, 5, 6, 7]) expect(truncateUtf8(bytes, max)).toEqual(utf8.encode('🙂'))
  })

  test('returns the longest valid UTF-8 prefix that fits', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.nat(900), (text, max) => {
        const bytes = utf8.encode(text)
        const result = truncateUtf8(bytes, max)
        expect(result.length).toBeLessThanOrEqual(max)
        expect(result).toEqual(bytes.slice(0, result.length))
        expect(isUtf8(result)).toBe(true)
        // Maximal: the next whole character would not have fitted.
        const rest = strictDecoder.decode(bytes.subarray(result.length))
        const next = rest.codePointAt(0)
        if (next !== undefined) {
          const nextLength = utf8.encode(String.fromCodePoint(next)).length
          expect(result.length + nextLength).toBeGreaterThan(max)
        }
      }),
      { numRuns: 500 },
    )
  })
})

describe('sanitizeFileName', () => {
  const cases: Array<[string, string, string]> = [
    ['keeps an ordinary name', 'notes.txt', 'notes.txt'],
    ['keeps the case of the extension', 'NOTES.TXT', 'NOTES.TXT'],
    ['keeps letters from any script', 'grüße 日本.txt', 'grüße 日本.txt'],
    ['takes the base name of a Unix path', '../../etc/passwd.txt', 'passwd.txt'],
    ['takes the base name of a Windows path', '..\\..\\x.txt', 'x.txt'],
    ['takes the base name of a mixed path', 'a/b\\c/d.txt', 'd.txt'],
    ['removes NUL bytes', 'no\u0000te.txt', 'note.txt'],
    ['removes control characters', 'a\tb\nc\u001b[31m\u007f\u0085.txt', 'abc[31m.txt'],
    [
      'removes a bidi override, exposing the real extension',
      'evil\u202Etxt.exe',
      'eviltxt.exe.txt',
    ],
    ['removes bidi isolates', 'a\u2066b\u2069.txt', 'ab.txt'],
    ['removes zero-width characters', 'a\u200bb\u200dc\ufeff.txt', 'abc.txt'],
    ['replaces characters invalid on Windows', 'a<b>c:d"e|f?g*.txt', 'a_b_c_d_e_f_g_.txt'],
    ['strips leading dots and spaces', ' . .hidden.txt', 'hidden.txt'],
    ['strips trailing dots and spaces before checking the extension', 'a.txt. . ', 'a.txt'],
    ['appends .txt after another extension', 'a.txt.exe', 'a.txt.exe.txt'],
    ['appends .txt to a name without extension', 'README', 'README.txt'],
    ['turns a bare .txt into a visible name', '.txt', 'txt.txt'],
    ['falls back for the empty name', '', 'file.txt'],
    ['falls back for dots only', '..', 'file.txt'],
    ['falls back for a path ending in a separator', 'dir/', 'file.txt'],
    ['falls back for invisible characters only', '\u202e\u200b', 'file.txt'],
    ['prefixes a Windows device name', 'CON.txt', '_CON.txt'],
    ['prefixes a Windows device name with a number', 'com1', '_com1.txt'],
    ['keeps a name that only starts like a device', 'console.txt', 'console.txt'],
    ['replaces a lone surrogate', 'a\ud800b.txt', 'a\ufffdb.txt'],
  ]
  for (const [what, name, expected] of cases) {
    test(what, () => {
      expect(sanitizeFileName(name)).toBe(expected)
    })
  }

  test('caps a 4 KB name at 120 UTF-8 bytes and keeps .txt', () => {
    const result = sanitizeFileName(`${'a'.repeat(4096)}.txt`)
    expect(result).toBe(`${'a'.repeat(116)}.txt`)
  })

  test('caps a long name of multi-byte characters without splitting one', () => {
    const result = sanitizeFileName(`${'€'.repeat(100)}.TXT`)
    expect(result).toBe(`${'€'.repeat(38)}.TXT`)
    expect(sanitizeFileName('🙂'.repeat(100))).toBe(`${'🙂'.repeat(29)}.txt`)
  })

  test('is always a safe single .txt path component', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('.', '/', '\\', ' ', 'a', '€', '\u202e', '\u0000', 't', 'x', ':'),
        }),
        fc.string({ unit: 'binary', maxLength: 300 }),
        (tricky, anything) => {
          for (const name of [tricky, anything, `${tricky}.txt`, `${anything}.txt`]) {
            const result = sanitizeFileName(name)
            expect(result).not.toMatch(/[/\\<>:"|?*\p{Cc}]/u)
            expect(result.toLowerCase().endsWith('.txt')).toBe(true)
            expect(result).not.toMatch(/^[. ]/)
            expect(result.length).toBeGreaterThan('.txt'.length)
            expect(utf8.encode(result).length).toBeLessThanOrEqual(120)
            expect(sanitizeFileName(result)).toBe(result)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  test('gives a name that checkTextFile accepts', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (name) => {
        expect(checkTextFile(sanitizeFileName(name), TEXT, MAX)).toEqual({ ok: true })
      }),
    )
  })
})

describe('describeSize', () => {
  const cases: Array<[number, string]> = [
    [0, '0 B'],
    [512, '512 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1_048_575, '1.0 MiB'],
    [1_048_576, '1.0 MiB'],
    [1_572_864, '1.5 MiB'],
    [1024 ** 3, '1.0 GiB'],
  ]
  for (const [bytes, expected] of cases) {
    test(`describes ${bytes} bytes as ${expected}`, () => {
      expect(describeSize(bytes)).toBe(expected)
    })
  }
})
