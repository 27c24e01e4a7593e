// What the terminal shows of earlier sessions at start: the messages this device kept, between two
// separator lines, with a line for each new day; and a surface that holds the live chat back until
// they are out, so the screen keeps the order of events. Pure but for the surface it wraps.
import type { ShownMessage } from '../../shared/client/session.ts'
import type { ChatSurface } from './chat.ts'

export const EARLIER_TEXTS = {
  top: 'earlier messages on this device',
  bottom: 'new session',
} as const

export interface EarlierFormat {
  /** How an event reads live (format.ts). */
  readonly format: (event: ShownMessage) => string | undefined
  /** How a notice from the client reads (`-- text`). */
  readonly notice: (text: string) => string
  /** The calendar day of a time, for the day lines; injectable so tests are stable. */
  readonly dayOf?: (at: number) => string
}

function localDay(at: number): string {
  return new Date(at).toLocaleDateString([], {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
  })
}

/** Nothing when nothing was kept: a first start shows no separators. */
export function earlierLines(events: readonly ShownMessage[], options: EarlierFormat): string[] {
  if (events.length === 0) return []
  const dayOf = options.dayOf ?? localDay
  const lines = [options.notice(EARLIER_TEXTS.top)]
  let day: string | undefined
  for (const event of events) {
    const eventDay = dayOf(event.at)
    // Live lines carry only the time of day; kept ones may span weeks.
    if (eventDay !== day) lines.push(options.notice(eventDay))
    day = eventDay
    const text = options.format(event)
    if (text !== undefined) lines.push(text)
  }
  lines.push(options.notice(EARLIER_TEXTS.bottom))
  return lines
}

export interface HeldSurface {
  /** Prints through to the wrapped surface once released; questions are never held. */
  readonly surface: ChatSurface
  /** Prints `first`, then what was held meanwhile, and from then on prints straight through. */
  release(first: readonly string[]): void
}

export function holdSurface(target: ChatSurface): HeldSurface {
  let held: string[] | undefined = []
  return {
    surface: {
      print(text) {
        if (held) held.push(text)
        else target.print(text)
      },
      confirm: (question) => target.confirm(question),
    },
    release(first) {
      const waiting = held ?? []
      held = undefined
      for (const text of [...first, ...waiting]) target.print(text)
    },
  }
}
