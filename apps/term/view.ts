// What the terminal shows of the engine's events and its own notices. By default what a person
// needs: messages, files with their first lines, joins and leaves, warnings, a lost connection
// and its return, leaving the group; a changed room code only once the user has looked at it
// (/room). With --verbose the MLS detail too: every change of the group with its epoch and room
// code, every connection state. With --json every event and notice, as fields. Pure but for
// remembering what the user has been told.
import type { ChatEvent } from '../../shared/client/events.ts'
import { formatEvent, formatEventJson, safeJson } from './format.ts'
import { renderNotice, type TermNotice } from './notices.ts'
import { previewLines } from './preview.ts'

export interface ViewOptions {
  readonly color: boolean
  /** --verbose: MLS detail and every connection state. */
  readonly verbose: boolean
  /** --json: one JSON line per event and notice, nothing left out. */
  readonly json: boolean
  /** Whether an event's lines may be several (the screen) or must be one (pipe mode). */
  readonly multiline: boolean
  /** Local time of day for stamps; injectable so tests are stable. */
  readonly clock?: (at: number) => string
}

export interface TermView {
  /** How an event reads, or undefined when it is not shown. */
  event(event: ChatEvent): string | undefined
  /** How a notice from the client reads. */
  notice(notice: TermNotice): string
  /** A line of the client's own, as notices read (`-- text`). */
  line(text: string): string
}

type Connection = 'up' | 'lost'

/** What the default view does with an event: leaves it out, says it its own way, or as usual. */
type Quiet =
  | { readonly kind: 'hidden' }
  | { readonly kind: 'said'; readonly text: string }
  | { readonly kind: 'as-formatted' }

/** How session.ts says the client itself ended the connection (leave, close). */
const CLOSED_ON_PURPOSE = new Set(['left the room', 'closed'])

/** Notices that list one thing a line (/who, /help, /devices), in pipe mode too. */
const LISTS: ReadonlySet<TermNotice['type']> = new Set(['who', 'help', 'devices'])

const HIDDEN: Quiet = { kind: 'hidden' }
const AS_FORMATTED: Quiet = { kind: 'as-formatted' }

export function createView(options: ViewOptions): TermView {
  const { color, verbose } = options
  const format = { color, clock: options.clock }
  const line = (text: string) => (color ? `\x1b[2m-- ${text}\x1b[0m` : `-- ${text}`)
  /** The room code the user last saw with /room; none until they ask. */
  let codeShown: string | undefined
  let connection: Connection = 'up'

  const said = (text: string): Quiet => ({ kind: 'said', text: line(text) })

  /** What a person needs of this event; --verbose shows every one as formatted. */
  function quiet(event: ChatEvent): Quiet {
    switch (event.type) {
      case 'status':
        // One line when the connection goes, one when it is back: not one per attempt.
        if (event.status === 'reconnecting') {
          if (connection === 'lost') return HIDDEN
          connection = 'lost'
          return said(`connection lost (${event.detail ?? 'no reason given'}); reconnecting`)
        }
        if (event.status === 'ready' && connection === 'lost') {
          connection = 'up'
          return said('connected again')
        }
        // Left or closed on purpose: the user knows. By the server or the network: they must.
        if (event.status === 'closed' && !CLOSED_ON_PURPOSE.has(event.detail ?? '')) {
          return AS_FORMATTED
        }
        return HIDDEN
      case 'membership':
        if (event.members.length === 0) return AS_FORMATTED
        if (codeShown === undefined || event.roomCode === codeShown) return HIDDEN
        codeShown = event.roomCode
        return said(`the group changed; the room code is now ${event.roomCode}`)
      case 'warning':
        return event.code === 'history_unreadable' ? HIDDEN : AS_FORMATTED
      default:
        return AS_FORMATTED
    }
  }

  function withPreview(event: ChatEvent, text: string): string {
    if (event.type !== 'file' || event.own || !options.multiline) return text
    const { lines, more } = previewLines(event.bytes)
    const shown = [...lines, ...(more ? ['…'] : [])].map((row) => `      | ${row}`)
    if (shown.length === 0) return text
    return [text, ...shown.map((row) => (color ? `\x1b[2m${row}\x1b[0m` : row))].join('\n')
  }

  return {
    event(event) {
      if (options.json) return formatEventJson(event)
      const shown = verbose ? AS_FORMATTED : quiet(event)
      if (shown.kind === 'hidden') return undefined
      if (shown.kind === 'said') return shown.text
      const text = formatEvent(event, format)
      if (text === undefined) return undefined
      return options.multiline ? withPreview(event, text) : text.replaceAll('\n', '\\n')
    },
    notice(notice) {
      if (notice.type === 'room-code' && notice.roomCode !== null) codeShown = notice.roomCode
      if (options.json) return safeJson(notice)
      const text = renderNotice(notice, { color })
      // One line per notice in pipe mode, but for the lists, which give one thing a line.
      if (options.multiline || LISTS.has(notice.type)) return text
      return text.replaceAll('\n', '\\n')
    },
    line,
  }
}
