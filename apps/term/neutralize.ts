// Makes text that came from someone else (a peer, the server, a certificate) harmless to print
// on a terminal: shown, never obeyed. Pure; every view and prompt passes such text through it.

/**
 * Bidi overrides, embeddings, isolates and marks reorder what is shown around them, so
 * `evil\u202Etxt.exe` displays as `evilexe.txt`. U+2028/2029 separate lines in some renderers.
 */
const REORDERING = new Set([
  0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
  0x2028, 0x2029,
])

function escapeChar(char: string, keepNewlines: boolean): string {
  const code = char.codePointAt(0) as number
  if (char === '\n') return keepNewlines ? '\n' : '\\n'
  if (char === '\t') return '  '
  // ESC (and so every ANSI sequence), the other C0 and C1 controls, and DEL.
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
    return `\\x${code.toString(16).padStart(2, '0')}`
  }
  if (REORDERING.has(code)) return `\\u${code.toString(16).padStart(4, '0')}`
  return char
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
