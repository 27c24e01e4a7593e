// How times and file previews read on the page: pure functions over numbers and bytes; knows
// nothing of the engine or the DOM.
import { visibleText } from '../../../shared/client/visible-text.ts'

const PREVIEW_LINES = 8
const PREVIEW_CHARACTERS = 800
const decoder = new TextDecoder()
const encoder = new TextEncoder()

// One formatter for every entry: toLocaleTimeString builds a new one per call, which made a
// reload over 10,000 kept messages spend seconds on the time stamps alone.
const TIME_FORMAT = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' })

/** `14:05`, in the reader's locale and time zone. */
export function formatTime(at: number): string {
  return TIME_FORMAT.format(at)
}

const DATE_TIME_FORMAT = new Intl.DateTimeFormat([], { dateStyle: 'medium', timeStyle: 'short' })

/** `3 Mar 2026, 14:05`, in the reader's locale: when something happened on another day. */
export function formatDateTime(at: number): string {
  return DATE_TIME_FORMAT.format(at)
}

/** For the `datetime` attribute and the tooltip: the exact moment. */
export function formatInstant(at: number): string {
  return new Date(at).toISOString()
}

/**
 * The first few lines of a text file, and whether anything was left out; its control bytes shown
 * as the terminal shows them (`\x07`), where a browser would draw empty boxes.
 */
export function previewText(bytes: Uint8Array): { text: string; more: boolean } {
  // The engine has checked the bytes are UTF-8; decoding a prefix may cut a character, which the
  // lenient decoder shows as U+FFFD at the very end.
  const head = decoder.decode(bytes.subarray(0, PREVIEW_CHARACTERS * 4))
  const lines = head.split('\n')
  let text = lines.slice(0, PREVIEW_LINES).join('\n')
  if (text.length > PREVIEW_CHARACTERS) text = text.slice(0, PREVIEW_CHARACTERS)
  return { text: visibleText(text), more: encoder.encode(text).length < bytes.length }
}
