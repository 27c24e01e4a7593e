// The event log: one line per event on stdout, as text (`at event key=value …`) or as one JSON
// object per line (`at`, `event` and the event's fields), with each kind of event held to a rate
// so that a flood of refusals cannot flood the log: past it, one `suppressed` line counts the rest.
import type { EventSink, ServerEvent, ServerEventKind } from './events.ts'

export const LOG_FORMATS = ['text', 'json'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

/** Lines of one kind of event the log takes in one second; the rest are counted. */
export const LINES_PER_SECOND = 20

export interface EventLogOptions {
  readonly format: LogFormat
  /** Writes one line (without its newline). */
  readonly write?: (line: string) => void
  readonly now?: () => number
  readonly linesPerSecond?: number
}

export interface EventLog extends EventSink {
  /** Writes the counts of lines left out so far: before the process exits. */
  flush(): void
}

/** One event as a line of the format. */
export function formatEvent(event: ServerEvent, at: number, format: LogFormat): string {
  const time = new Date(at).toISOString()
  if (format === 'json') return JSON.stringify({ at: time, ...event })
  const { event: kind, ...fields } = event
  const pairs = Object.entries(fields).map(([key, value]) => `${key}=${textValue(value)}`)
  return [time, kind, ...pairs].join(' ')
}

/** Bare when it cannot be mistaken for anything else; quoted (JSON) otherwise, so no value spans lines. */
function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value)
  return typeof value === 'string' && !/^[\w.:@/+-]+$/.test(text) ? JSON.stringify(text) : text
}

/** One kind's count in the current one-second window, and what it left out. */
interface Window {
  startedAt: number
  written: number
  suppressed: number
  flushTimer: ReturnType<typeof setTimeout> | undefined
}

export function createEventLog(options: EventLogOptions): EventLog {
  const { format } = options
  const write = options.write ?? ((line: string) => console.log(line))
  const now = options.now ?? Date.now
  const perSecond = options.linesPerSecond ?? LINES_PER_SECOND
  const windows = new Map<ServerEventKind, Window>()

  function line(event: ServerEvent): void {
    write(formatEvent(event, now(), format))
  }

  /** The window's left-out lines, as one line; the next event of its kind starts a new window. */
  function flushWindow(kind: ServerEventKind, window: Window): void {
    clearTimeout(window.flushTimer)
    window.flushTimer = undefined
    if (window.suppressed > 0) line({ event: 'suppressed', kind, count: window.suppressed })
    window.suppressed = 0
  }

  function log(event: ServerEvent): void {
    const at = now()
    const kind = event.event
    let window = windows.get(kind)
    if (!window) {
      window = { startedAt: at, written: 0, suppressed: 0, flushTimer: undefined }
      windows.set(kind, window)
    } else if (at - window.startedAt >= 1000) {
      flushWindow(kind, window)
      window.startedAt = at
      window.written = 0
    }
    if (window.written < perSecond) {
      window.written += 1
      line(event)
      return
    }
    window.suppressed += 1
    // The count is written when the second is over even if no event of this kind follows.
    if (!window.flushTimer) {
      const open = window
      open.flushTimer = setTimeout(() => flushWindow(kind, open), open.startedAt + 1000 - at)
      open.flushTimer.unref?.()
    }
  }

  return Object.assign(log, {
    flush() {
      for (const [kind, window] of windows) flushWindow(kind, window)
    },
  })
}
