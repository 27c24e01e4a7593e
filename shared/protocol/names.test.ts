import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { RESERVED_NAMES } from './limits.ts'
import { checkName, nameKey } from './names.ts'

const INVALID = {
  ok: false,
  code: 'name_invalid',
  message: 'a name is 3–24 ASCII letters, digits, _ or -, starting with a letter',
} as const

describe('checkName', () => {
  const accepted: Array<[string, string]> = [
    ['a name of 3 characters', 'abc'],
    ['a name of 24 characters', `a${'b'.repeat(23)}`],
    ['a name mixing case, digits, underscores and dashes', 'Alice_Bob-42'],
    ['a name that only contains a reserved word', 'servers'],
  ]
  for (const [what, name] of accepted) {
    test(`accepts ${what}`, () => {
      expect(checkName(name)).toEqual({ ok: true })
    })
  }

  const refused: Array<[string, string]> = [
    ['a name of 2 characters', 'ab'],
    ['a name of 25 characters', `a${'b'.repeat(24)}`],
    ['the empty name', ''],
    ['a name starting with a digit', '1alice'],
    ['a name starting with an underscore', '_alice'],
    ['a name starting with a dash', '-alice'],
    ['a name with a space', 'al ice'],
    ['a name with a trailing newline', 'alice\n'],
    ['a name with a Cyrillic а that looks Latin', '\u0430lice'],
    ['a name with a fullwidth letter', '\uff41lice'],
    ['a name with a zero-width joiner inside', 'al\u200dice'],
    ['a name with a combining accent', 'ali\u0301ce'],
    ['a name with the Kelvin sign, which lowercases to k', '\u212aate'],
  ]
  for (const [what, name] of refused) {
    test(`refuses ${what} as name_invalid`, () => {
      expect(checkName(name)).toEqual(INVALID)
    })
  }

  for (const name of ['server', 'System', 'SERVER']) {
    test(`refuses ${name} as name_reserved`, () => {
      expect(checkName(name)).toEqual({
        ok: false,
        code: 'name_reserved',
        message: `"${name}" is reserved`,
      })
    })
  }

  test('accepts only ASCII names that fit the documented pattern, and all of those', () => {
    const lookAlikes = ['a', 'Z', 'k', '0', '_', '-', ' ', '\n', '\u0430', '\uff41', '\u200d']
    const name = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.string({ unit: fc.constantFrom(...lookAlikes, '\u0301', '\u212a'), maxLength: 30 }),
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{2,23}$/),
    )
    fc.assert(
      fc.property(name, (candidate) => {
        const fits =
          /^[A-Za-z][A-Za-z0-9_-]{2,23}$/.test(candidate) &&
          !RESERVED_NAMES.has(candidate.toLowerCase())
        const check = checkName(candidate)
        expect(check.ok).toBe(fits)
        if (check.ok) expect(candidate).toMatch(/^[\x20-\x7e]*$/)
      }),
      { numRuns: 500 },
    )
  })
})

describe('nameKey', () => {
  test('folds case so that names differing only in case collide', () => {
    expect(nameKey('AlIcE')).toBe('alice')
    expect(nameKey('ALICE_1')).toBe(nameKey('alice_1'))
  })
})
