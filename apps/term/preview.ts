// The first lines of a received text file, shown under the line that names it, as the page
// shows them: made harmless like any other text from someone else, each cut to a readable width.
// Pure.
import { neutralizeLine } from './neutralize.ts'

/** Lines shown; the page shows more, but a terminal scrolls them away from the conversation. */
export const PREVIEW_LINES = 3
/** Characters of each line shown. */
export const PREVIEW_WIDTH = 100

const decoder = new TextDecoder()

/** The preview lines, and whether anything of the file was left out. */
export function previewLines(bytes: Uint8Array): { lines: string[]; more: boolean } {
  // Enough bytes for the lines shown and one more, whatever the characters' widths in UTF-8;
  // a character cut at the end decodes as U+FFFD, past what is shown.
  const headBytes = (PREVIEW_LINES + 1) * PREVIEW_WIDTH * 4
  const all = decoder.decode(bytes.subarray(0, headBytes)).split('\n')
  // A file's last newline ends its last line; it does not start another.
  if (all.at(-1) === '' && bytes.length <= headBytes) all.pop()
  const lines: string[] = []
  // Past the head there is more: at least one more line, or a line cut below.
  let more = all.length > PREVIEW_LINES
  for (const line of all.slice(0, PREVIEW_LINES)) {
    // A line of a Windows file ends with CR: not worth showing as \x0d.
    const shown = neutralizeLine(line.replace(/\r$/, ''))
    if ([...shown].length > PREVIEW_WIDTH) more = true
    lines.push([...shown].slice(0, PREVIEW_WIDTH).join(''))
  }
  return { lines, more }
}
