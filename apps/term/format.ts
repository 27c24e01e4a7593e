// How engine events read in a terminal: pure functions from an event to the line(s) to print,
// with every byte that came from someone else made harmless first (neutralize.ts): only a
// message body may span lines. No I/O here.
import type { ChatEvent } from '../../shared/client/events.ts'
import { describeSize } from '../../shared/client/files.ts'
import { neutralize, neutralizeLine } from './neutralize.ts'

export interface FormatOptions {
  readonly color: boolean
  /** Local time of day for stamps; injectable so tests are stable. */
  readonly clock?: (at: number) => string
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
  return paint(options, `1;${colorOf(who)}`, neutralizeLine(who))
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
        ? ` ${warning(options, `(server said ${neutralizeLine(event.claimedBy)})`)}`
        : ''
      const width = 6 + neutralizeLine(event.from).length + 2
      return `${head}: ${indentBody(event.text, width)}${claim}`
    }
    case 'file': {
      const size = describeSize(event.size)
      const cut = event.truncated ? `, truncated to ${describeSize(event.bytes.length)}` : ''
      return (
        `${stamp(options, event.at)} ${name(options, event.from)} sent ` +
        `${paint(options, 1, neutralizeLine(event.name))} (${size}${cut})`
      )
    }
    case 'presence':
      return system(
        options,
        event.event === 'join'
          ? `${neutralizeLine(event.name)} joined`
          : `${neutralizeLine(event.name)} left${event.reason && event.reason !== 'quit' ? ` (${event.reason})` : ''}`,
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
        `the key of ${neutralizeLine(event.name)} CHANGED. Sending is paused until you check it ` +
          `with /verify ${neutralizeLine(event.name)} and accept it with /trust ` +
          neutralizeLine(event.name),
      )
    case 'warning':
      if (event.code === 'history_unreadable') return system(options, neutralizeLine(event.message))
      if (event.code === 'group_integrity') {
        return warning(
          options,
          `SECURITY: ${neutralizeLine(event.message)}; nothing of it was applied`,
        )
      }
      return warning(options, neutralizeLine(event.message))
    case 'device-presence':
      // The person is still online: /who lists its devices.
      return undefined
    case 'link-code':
      // On a line of its own, in pipe mode too: a script reads it as it stands.
      return `link code: ${event.code}`
    case 'linked':
      return system(options, 'a device of yours approved this one: it is linked')
    case 'error':
      return warning(options, `server: ${neutralizeLine(event.message)} (${event.code})`)
    case 'status':
      return system(
        options,
        `${event.status}${event.detail ? `: ${neutralizeLine(event.detail)}` : ''}`,
      )
  }
}

/**
 * JSON.stringify escapes C0 controls but leaves C1 controls (U+009B is a CSI to some terminals)
 * and bidi controls as they are; escaped as \uXXXX the line still parses to the same event.
 */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_UNSAFE,
    (char) => `\\u${(char.codePointAt(0) as number).toString(16).padStart(4, '0')}`,
  )
}

/** One JSON line per event for scripts; file contents as base64. */
export function formatEventJson(event: ChatEvent): string {
  if (event.type === 'file') {
    const { bytes, ...rest } = event
    return safeJson({ ...rest, base64: bytes.toBase64() })
  }
  return safeJson(event)
}
