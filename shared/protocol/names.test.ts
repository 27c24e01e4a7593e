import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { RESERVED_NAMES } from './limits.ts'
import { checkName, nameKey, nameSkeleton } from './names.ts'

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

  const reserved = [
    'server',
    'System',
    'SERVER',
    'admin',
    'ROOT',
    'chatbox',
    'Moderator',
    'operator',
  ]
  for (const name of reserved) {
    test(`refuses ${name} as name_reserved`, () => {
      expect(checkName(name)).toEqual({
        ok: false,
        code: 'name_reserved',
        message: `"${name}" is reserved`,
      })
    })
  }

  const lookAlikesOfReserved: Array<[string, string]> = [
    ['adm1n', 'admin'],
    ['ADMlN', 'admin'],
    ['r00t', 'root'],
    ['ro0t_', 'root'],
    ['chat-box', 'chatbox'],
    ['CHATB0X', 'chatbox'],
    ['rnoderator', 'moderator'],
    ['operat0r', 'operator'],
    ['SYS-TEM', 'system'],
    ['sys_tem', 'system'],
  ]
  for (const [name, like] of lookAlikesOfReserved) {
    test(`refuses ${name}, which looks like ${like}, as name_reserved`, () => {
      expect(checkName(name)).toEqual({
        ok: false,
        code: 'name_reserved',
        message: `"${name}" looks like the reserved name "${like}"`,
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
          ![...RESERVED_NAMES].some((word) => nameSkeleton(word) === nameSkeleton(candidate))
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

describe('nameSkeleton', () => {
  const alike: Array<[string, string, string]> = [
    ['case', 'ALICE', 'alice'],
    ['capital I for l', 'aIice', 'alice'],
    ['digit 1 for l', 'a1ice', 'alice'],
    ['l for i', 'allce', 'alice'],
    ['digit 0 for o', 'b0b', 'bob'],
    ['rn for m', 'rnallory', 'mallory'],
    ['vv for w', 'vvalter', 'walter'],
    ['cl for d', 'clave', 'dave'],
    ['a trailing underscore', 'alice_', 'alice'],
    ['a dash inside', 'a-lice', 'alice'],
    ['underscore for dash', 'bob_smith', 'bob-smith'],
    ['a pair across a dash', 'r-nallory', 'mallory'],
  ]
  for (const [what, name, other] of alike) {
    test(`gives ${name} and ${other} one skeleton: ${what}`, () => {
      expect(nameSkeleton(name)).toBe(nameSkeleton(other))
    })
  }

  const apart: Array<[string, string]> = [
    ['alice', 'alicia'],
    ['bob', 'rob'],
    ['mallory', 'malory'],
    ['carol', 'carl'],
    ['eve', 'ewe'],
  ]
  for (const [name, other] of apart) {
    test(`keeps ${name} and ${other} apart`, () => {
      expect(nameSkeleton(name)).not.toBe(nameSkeleton(other))
    })
  }

  test('writes the documented map and nothing else', () => {
    expect(nameSkeleton('Il1i-O0o_rnvvcl')).toBe('llllooomwd')
    expect(nameSkeleton('abcdefghjkmnpqrstuvwxyz23456789')).toBe('abcdefghjkmnpqrstuvwxyz23456789')
  })

  test('gives a name the skeleton of any name that swaps in look-alike glyphs', () => {
    const classes = [
      ['i', 'I', 'l', 'L', '1'],
      ['o', 'O', '0'],
      ['m', 'M', 'rn'],
      ['w', 'vv'],
      ['d', 'cl'],
    ]
    const plain = 'abcdefghjknpqstuxyz'.split('')
    const unit = fc.oneof(
      fc.constantFrom(...plain).map((letter) => [letter, letter.toUpperCase()] as const),
      fc
        .constantFrom(...classes)
        .chain((looks) => fc.tuple(fc.constantFrom(...looks), fc.constantFrom(...looks))),
      fc.constant(['_', '-'] as const),
    )
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 20 }), (units) => {
        const one = `z${units.map(([left]) => left).join('')}`
        const other = `Z${units.map(([, right]) => right).join('')}`
        expect(nameSkeleton(one)).toBe(nameSkeleton(other))
      }),
      { numRuns: 500 },
    )
  })
})
