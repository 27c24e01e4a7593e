// Makes text that came from someone else (a peer, the server, a certificate) harmless to print
// on a terminal: shown, never obeyed. Pure; every view and prompt passes such text through it.
import { visibleChar } from '../../shared/client/visible-text.ts'

function escapeChar(char: string, keepNewlines: boolean): string {
  if (char === '\n') return keepNewlines ? '\n' : '\\n'
  if (char === '\t') return '  '
  // The convention both clients share: controls as `\xNN`, reordering characters as `\uNNNN`.
  return visibleChar(char)
}

/**
 * For a message body: every control and reordering character is shown as a visible escape;
 * tabs become spaces; newlines stay, for multi-line messages, and are indented by the caller.
 */
export function neutralize(text: string): string {
  let out = ''
  for (const char of text) out += escapeChar(char, true)
  return out
}

/**
 * For anything shown inside one line (names, file names, errors, notices about them): as
 * `neutralize`, and a newline is shown as `\n`, so nothing can start a line the client did not.
 */
export function neutralizeLine(text: string): string {
  let out = ''
  for (const char of text) out += escapeChar(char, false)
  return out
}
