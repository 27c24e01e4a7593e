// The name rules shared by the server, which enforces them, and both clients, which check as
// the user types; knows nothing of sockets or storage.
import { NAME_MAX_LENGTH, NAME_MIN_LENGTH, NAME_PATTERN, RESERVED_NAMES } from './limits.ts'

export type NameProblem = 'name_invalid' | 'name_reserved'

export interface NameCheck {
  readonly ok: boolean
  readonly code?: NameProblem
  readonly message?: string
}

/** Names are unique case-insensitively, so every lookup goes through this key. */
export function nameKey(name: string): string {
  return name.toLowerCase()
}

/**
 * Glyphs a reader cannot tell apart in a usual font, each written as one. Kept small on purpose:
 * names are ASCII already (NAME_PATTERN), so only ASCII look-alikes are left to fold.
 *   case            A = a (nameKey first)
 *   _ and -         dropped: alice_, a-lice and alice look alike
 *   i, I, l, 1      all l
 *   o, O, 0         all o
 *   rn              m
 *   vv              w
 *   cl              d
 */
const LOOK_ALIKE_GLYPHS: Readonly<Record<string, string>> = { i: 'l', '1': 'l', '0': 'o' }
const LOOK_ALIKE_PAIRS: Readonly<Record<string, string>> = { rn: 'm', vv: 'w', cl: 'd' }

/**
 * What a name looks like: two names with one skeleton are one name to a reader, so only one of
 * them may be bound. A function of `nameKey`, so names that differ in case share it too.
 */
export function nameSkeleton(name: string): string {
  return nameKey(name)
    .replace(/[_-]/g, '')
    .replace(/[i10]/g, (glyph) => LOOK_ALIKE_GLYPHS[glyph] ?? glyph)
    .replace(/rn|vv|cl/g, (pair) => LOOK_ALIKE_PAIRS[pair] ?? pair)
}

/** Each reserved name by its skeleton, so that adm1n is refused as admin is. */
const RESERVED_SKELETONS = new Map([...RESERVED_NAMES].map((name) => [nameSkeleton(name), name]))

export function checkName(name: string): NameCheck {
  if (!NAME_PATTERN.test(name)) {
    return {
      ok: false,
      code: 'name_invalid',
      message:
        `a name is ${NAME_MIN_LENGTH}–${NAME_MAX_LENGTH} ASCII letters, digits, _ or -, ` +
        'starting with a letter',
    }
  }
  const reserved = RESERVED_SKELETONS.get(nameSkeleton(name))
  if (reserved !== undefined) {
    const message =
      reserved === nameKey(name)
        ? `"${name}" is reserved`
        : `"${name}" looks like the reserved name "${reserved}"`
    return { ok: false, code: 'name_reserved', message }
  }
  return { ok: true }
}
