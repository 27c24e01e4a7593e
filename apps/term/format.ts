// How engine events read in a terminal: pure functions from an event to the line(s) to print,
// with every byte that came from someone else made harmless first. No I/O here.
import type { ChatEvent } from '../../shared/client/events.ts'
import { describeSize } from '../../shared/client/files.ts'

export interface FormatOptions {
  readonly color: boolean
  /** Local time of day for stamps; injectable so tests are stable. */
  readonly clock?: (at: number) => string
}

/**
 * Other people's text must never drive the terminal: ESC (and so every ANSI sequence), the other
 * C0 and C1 controls, DEL, and bidi overrides are shown as visible escapes instead. Tabs become
 * spaces; newlines stay, for multi-line messages, and are indented by the caller.
 */
export function neutralize(text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0) as number
    if (char === '\n') out += '\n'
    else if (char === '\t') out += '  '
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      out += `\\x${code.toString(16).padStart(2, '0')}`
    } else if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) {
      out += `\\u${code.toString(16)}`
    } else out += char
  }
  return out
}

const NAME_COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96]

/** The same name gets the same colour in every client and every run. */
export function colorOf(name: string): number {
  let hash = 0
  for (const char of name.toLowerCase()) hash = (hash * 31 + (char.codePointAt(0) as number)) >>> 0
  return NAME_COLORS[hash % NAME_COLORS.length] as number
}

function paint(options: FormatOptions, code: number | string, text: string): string {
  return options.color ? `\x1b[${code}m${text}\x1b[0m` : text
}

function stamp(options: FormatOptions, at: number): string {
  const time =
    options.clock?.(at) ??
    new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false })
  return paint(options, 2, time)
}

function name(options: FormatOptions, who: string): string {
  return paint(options, `1;${colorOf(who)}`, neutralize(who))
}

function system(options: FormatOptions, text: string): string {
  return paint(options, 2, `-- ${text}`)
}

function warning(options: FormatOptions, text: string): string {
  return paint(options, '1;33', `!! ${text}`)
}

/** Continuation lines of a multi-line message line up under its first line. */
function indentBody(text: string, width: number): string {
  return neutralize(text)
    .split('\n')
    .join(`\n${' '.repeat(width)}`)
}

/** The lines an event shows as, or undefined for events the chat screen does not print. */
export function formatEvent(event: ChatEvent, options: FormatOptions): string | undefined {
  switch (event.type) {
    case 'message': {
      const head = `${stamp(options, event.at)} ${name(options, event.from)}`
      const claim = event.claimedBy
        ? ` ${warning(options, `(server said ${neutralize(event.claimedBy)})`)}`
        : ''
      const width = 6 + neutralize(event.from).length + 2
      return `${head}: ${indentBody(event.text, width)}${claim}`
    }
    case 'file': {
      const size = describeSize(event.size)
      const cut = event.truncated ? `, truncated to ${describeSize(event.bytes.length)}` : ''
      return (
        `${stamp(options, event.at)} ${name(options, event.from)} sent ` +
        `${paint(options, 1, neutralize(event.name))} (${size}${cut})`
      )
    }
    case 'presence':
      return system(
        options,
        event.event === 'join'
          ? `${neutralize(event.name)} joined`
          : `${neutralize(event.name)} left${event.reason && event.reason !== 'quit' ? ` (${event.reason})` : ''}`,
      )
    case 'membership':
      if (event.members.length === 0) return system(options, 'you are no longer in the group')
      return system(
        options,
        `group epoch ${event.epoch}: ${event.members.length} member(s) can read new messages` +
          (event.roomCode ? `; room code ${event.roomCode}` : ''),
      )
    case 'key-change':
      return warning(
        options,
        `the key of ${neutralize(event.name)} CHANGED. Sending is paused until you check it with ` +
          `/verify ${neutralize(event.name)} and accept it with /trust ${neutralize(event.name)}`,
      )
    case 'warning':
      if (event.code === 'history_unreadable') return system(options, neutralize(event.message))
      if (event.code === 'group_integrity') {
        return warning(options, `SECURITY: ${neutralize(event.message)}; nothing of it was applied`)
      }
      return warning(options, neutralize(event.message))
    case 'error':
      return warning(options, `server: ${neutralize(event.message)} (${event.code})`)
    case 'status':
      return system(
        options,
        `${event.status}${event.detail ? `: ${neutralize(event.detail)}` : ''}`,
      )
  }
}

/** One JSON line per event for scripts; file contents as base64. */
export function formatEventJson(event: ChatEvent): string {
  if (event.type === 'file') {
    const { bytes, ...rest } = event
    return JSON.stringify({ ...rest, base64: bytes.toBase64() })
  }
  return JSON.stringify(event)
}
