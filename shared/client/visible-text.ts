// How text someone else wrote is shown by either client: control characters and characters that
// reorder their surroundings become visible escapes (`\x07`, `\x1b`, `\u202e`), never obeyed and
// never drawn as an empty box. Pure; knows nothing of terminals or pages.

/**
 * Bidi overrides, embeddings, isolates and marks reorder what is shown around them, so
 * `evil\u202Etxt.exe` displays as `evilexe.txt`. U+2028/2029 separate lines in some renderers.
 */
const REORDERING = new Set([
  0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
  0x2028, 0x2029,
])

/**
 * One character as it is shown: ESC (and so every ANSI sequence), the other C0 and C1 controls
 * and DEL as `\xNN`; a reordering character as `\uNNNN`; anything else as it is. Newlines and
 * tabs are controls too: a caller that keeps them handles them before calling this.
 */
export function visibleChar(char: string): string {
  const code = char.codePointAt(0) ?? 0
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
    return `\\x${code.toString(16).padStart(2, '0')}`
  }
  if (REORDERING.has(code)) return `\\u${code.toString(16).padStart(4, '0')}`
  return char
}

/**
 * A block of text for a page, where newlines and tabs are layout the browser draws: they stay,
 * a CR that ends a line goes with its line break, and every other control is made visible.
 */
export function visibleText(text: string): string {
  let out = ''
  for (const char of text.replaceAll('\r\n', '\n')) {
    out += char === '\n' || char === '\t' ? char : visibleChar(char)
  }
  return out
}
