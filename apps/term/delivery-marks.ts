// What the terminal shows of your own messages on their way. A scrolling terminal cannot take a
// line back, so a line is printed once its fate is known: a message the room's log shows within
// a moment reads like any other; one sent offline (or, on the chat screen, one that takes longer)
// is printed at once with a `…` mark, and a short `✓ sent` line follows when the log shows it; a
// failed one says why and the number `/retry N` takes. With --json each state is a line of its
// own. No I/O here.
import type { ChatEvent, DeliveryEvent } from '../../shared/client/events.ts'
import { describeSize } from '../../shared/client/files.ts'
import type { ChatSession } from '../../shared/client/session.ts'
import { neutralizeLine } from './neutralize.ts'

/** The chat screen's wait for the log before a message is shown on its way. */
export const GRACE_MS = 400
/** The mark on a line whose message the log has not shown yet. */
export const PENDING_MARK = '…'

export interface DeliveryMarksOptions {
  readonly session: Pick<ChatSession, 'name' | 'status' | 'retry'>
  readonly print: (text: string) => void
  /** How an event reads (format.ts), for the pending line. */
  readonly format: (event: ChatEvent) => string | undefined
  /** How a notice from the client reads. */
  readonly notice: (text: string) => string
  /** With --json: one JSON line per state (the caller's serializer), nothing held back. */
  readonly json?: (value: unknown) => string
  /**
   * How long a message sent while connected may take before it is shown on its way; without it,
   * its line waits for the log (pipe mode: one line per message, however slow the server).
   */
  readonly graceMs?: number
}

export interface DeliveryMarks {
  /** Shows its part of an event; true when the caller should print nothing for it. */
  take(event: ChatEvent): boolean
  /** `/retry N`: sends failed message N again; throws when there is none. */
  retry(number: number): Promise<void>
}

/** Enough of a message to recognise it on one line. */
function gist(event: DeliveryEvent): string {
  if (event.content.kind === 'file') {
    return `${neutralizeLine(event.content.name)} (${describeSize(event.content.size)})`
  }
  const line = neutralizeLine(event.content.text.replace(/\s+/g, ' ').trim())
  return `"${line.length > 40 ? `${line.slice(0, 39)}…` : line}"`
}

/** A file's bytes have no place on a line (its own `file` event carries them, as base64). */
function withoutBytes(content: DeliveryEvent['content']): object {
  if (content.kind === 'text') return content
  const { bytes: _bytes, ...rest } = content
  return rest
}

/** The line of a message as the log will show it, from what was sent. */
function asLogged(event: DeliveryEvent, from: string): ChatEvent {
  const meta = { id: event.id, seq: 0, at: event.at, from, own: true }
  const { content } = event
  return content.kind === 'text'
    ? { type: 'message', ...meta, text: content.text }
    : { type: 'file', ...meta, ...content }
}

export function createDeliveryMarks(options: DeliveryMarksOptions): DeliveryMarks {
  const { session, print } = options
  /** Not printed yet: the log may show them within the grace. */
  const waiting = new Map<string, ReturnType<typeof setTimeout>>()
  /** Printed with the pending mark: their own event from the log is not printed again. */
  const marked = new Set<string>()
  /** Failed messages by the number `/retry` takes; a message keeps its number. */
  const failed = new Map<number, string>()
  const numbers = new Map<string, number>()

  function numberOf(id: string): number {
    const known = numbers.get(id)
    if (known !== undefined) return known
    const number = numbers.size + 1
    numbers.set(id, number)
    return number
  }

  function printMarked(event: DeliveryEvent): void {
    waiting.delete(event.id)
    marked.add(event.id)
    const line = options.format(asLogged(event, session.name))
    if (line !== undefined) print(`${line} ${PENDING_MARK}`)
  }

  function stopWaiting(id: string): void {
    clearTimeout(waiting.get(id))
    waiting.delete(id)
  }

  function asJson(event: DeliveryEvent, serialize: (value: unknown) => string): void {
    const number = event.state === 'failed' ? numberOf(event.id) : undefined
    if (number) failed.set(number, event.id)
    const content = withoutBytes(event.content)
    print(serialize({ ...event, content, ...(number ? { retry: number } : {}) }))
  }

  function delivery(event: DeliveryEvent): void {
    const { id } = event
    stopWaiting(id)
    switch (event.state) {
      case 'pending':
        // Retried after its line was printed: what follows says how it went.
        if (marked.has(id)) return
        // Offline it cannot be quick: shown on its way at once.
        if (session.status !== 'ready') printMarked(event)
        else if (options.graceMs !== undefined) {
          waiting.set(
            id,
            setTimeout(() => printMarked(event), options.graceMs),
          )
        }
        return
      case 'sent': {
        const number = numbers.get(id)
        const saidFailed = number !== undefined && failed.get(number) === id
        // Said only where something else was said before: on its way, or not sent.
        if (marked.has(id) || saidFailed) print(options.notice(`✓ sent: ${gist(event)}`))
        marked.delete(id)
        if (saidFailed) failed.delete(number)
        return
      }
      case 'failed': {
        const number = numberOf(id)
        failed.set(number, id)
        const why = event.reason ? ` (${neutralizeLine(event.reason)})` : ''
        print(options.notice(`not sent: ${gist(event)}${why}; /retry ${number} sends it again`))
        return
      }
    }
  }

  return {
    take(event) {
      if (event.type === 'delivery') {
        if (options.json) asJson(event, options.json)
        else delivery(event)
        return true
      }
      // A refusal of messages: each "not sent" line says it already.
      if (event.type === 'error' && event.failed && !options.json) return true
      if ((event.type !== 'message' && event.type !== 'file') || !event.own) return false
      // The log showed it within the grace: it reads like anyone's.
      stopWaiting(event.id)
      return marked.has(event.id)
    },
    async retry(number) {
      const id = failed.get(number)
      if (id === undefined) {
        throw new Error(
          `no failed message ${number}: /retry takes the number a "not sent" line gave`,
        )
      }
      failed.delete(number)
      try {
        await session.retry(id)
      } catch (error) {
        // Refused before it was sent again (a changed key, no group): still failed, same number.
        if (!failed.has(number)) failed.set(number, id)
        throw error
      }
    },
  }
}
