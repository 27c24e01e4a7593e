// What a device started with --link-device shows while it waits to be linked: its code on a line
// of its own (a script reads it as it stands), where to type it, and that it was linked. Pure but
// for remembering which code it has shown.
import type { ChatEvent } from '../../shared/client/events.ts'
import type { TermView } from './view.ts'

/**
 * How events that come while joining read, or undefined for those it leaves to the chat: the
 * same code again (after a reconnect) is not repeated.
 */
export function createJoiningLines(
  view: Pick<TermView, 'event' | 'notice'>,
  now: () => number = Date.now,
): (event: ChatEvent, name: string) => string | undefined {
  let shown: string | undefined
  return (event, name) => {
    if (event.type === 'linked') return view.event(event)
    if (event.type !== 'link-code' || event.code === shown) return undefined
    shown = event.code
    const minutes = Math.max(1, Math.round((event.expiresAt - now()) / 60_000))
    const line = view.event(event)
    const hint = view.notice({ type: 'link-hint', name, code: event.code, minutes })
    return line === undefined ? hint : `${line}\n${hint}`
  }
}
