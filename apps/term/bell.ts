// When the terminal rings its bell: for a message from someone else that names you as a word
// (`alice`, `@alice`, `Alice:`), whatever the case. Pure; the caller writes the BEL byte.
import type { ChatEvent } from '../../shared/client/events.ts'

/** Characters a name is made of: a match inside a longer word (`alicex`, `bob-alice`) is none. */
const NAME_CHARACTERS = 'A-Za-z0-9_-'

export function mentionsYou(event: ChatEvent, name: string): boolean {
  if (event.type !== 'message' || event.own) return false
  // Names are letters, digits, `_` and `-` (protocol/limits.ts): nothing in one is special here.
  const word = new RegExp(`(^|[^${NAME_CHARACTERS}])${name}(?![${NAME_CHARACTERS}])`, 'i')
  return word.test(event.text)
}

/** The byte that rings a terminal's bell (or flashes it, or marks the tmux window). */
export const BEL = '\x07'
