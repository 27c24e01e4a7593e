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
  if (RESERVED_NAMES.has(nameKey(name))) {
    return { ok: false, code: 'name_reserved', message: `"${name}" is reserved` }
  }
  return { ok: true }
}
