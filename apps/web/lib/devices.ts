// One person's devices on the page: the link code as it is shown and spoken, the time it has left,
// the devices of a member in the order they are listed, and why a device request failed, in words.
// Pure; knows the engine's views and errors, nothing of the session, Solid or the DOM.
import { ChatError } from '../../../shared/client/chat-error.ts'
import type { DeviceSummary } from '../../../shared/client/member-views.ts'
import { LINK_CODE_MS } from '../../../shared/protocol/limits.ts'
import { asSentence, DEVICE_TEXTS } from './copy.ts'

/**
 * Milliseconds the code has left. The server's clock set `expiresAt`: one this page's clock puts
 * beyond a code's whole life is read as that life, so a slow clock never shows more than it has.
 */
export function linkTimeLeft(expiresAt: number, now: number): number {
  return Math.min(Math.max(expiresAt - now, 0), LINK_CODE_MS)
}

/** `4:32`: minutes and seconds, rounded up, so a code shown with 0:00 has indeed run out. */
export function formatTimeLeft(ms: number): string {
  const seconds = Math.ceil(Math.max(ms, 0) / 1000)
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`
}

/** `7 K Q 2, M 9 X D, …`: what a screen reader reads one character at a time, group by group. */
export function spellCode(code: string): string {
  return code
    .split('-')
    .map((group) => [...group].join(' '))
    .join(', ')
}

/** A member's devices as listed: this one first, then those online, then the rest. */
export function orderDevices(
  devices: readonly DeviceSummary[],
  ownKey: string | undefined,
): DeviceSummary[] {
  const rank = (device: DeviceSummary) =>
    device.identityKey === ownKey ? 0 : device.online ? 1 : 2
  return [...devices].sort(
    (a, b) => rank(a) - rank(b) || a.fingerprint.localeCompare(b.fingerprint),
  )
}

/** Why approving or unlinking a device did not work, as a sentence. */
export function deviceFailureText(error: unknown): string {
  if (!(error instanceof ChatError)) return asSentence((error as Error).message)
  switch (error.code) {
    case 'link_code':
      return DEVICE_TEXTS.notACode
    case 'link_mismatch':
      return DEVICE_TEXTS.mismatch
    case 'refused':
      return error.serverCode === 'link_invalid'
        ? DEVICE_TEXTS.noSuchCode
        : DEVICE_TEXTS.refused(error.message)
    default:
      return `${asSentence(error.message)}.`
  }
}
