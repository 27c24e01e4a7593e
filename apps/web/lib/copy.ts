// The page's words on the connection, the room's events, refusals and failed commands, in one
// place: plain strings and functions of names and codes; nothing of the session, store or DOM.
import type { ConnectionStatus } from '../../../shared/client/events.ts'
import type { ErrorCode, LeaveReason } from '../../../shared/protocol/frames.ts'

/** The room header's line about the connection. */
export const STATUS_TEXTS: Readonly<Record<ConnectionStatus, string>> = {
  connecting: 'Connecting…',
  joining: 'Waiting to be added to the encrypted group…',
  ready: 'Connected, end-to-end encrypted',
  reconnecting: 'Connection lost, reconnecting…',
  closed: 'Disconnected',
}

/** Completes "<name> …" when someone leaves the room. */
export const LEAVE_REASON_TEXTS: Readonly<Record<LeaveReason, string>> = {
  quit: 'left',
  disconnect: 'disconnected',
  timeout: 'timed out',
  dropped: 'was dropped by the server',
  replaced: 'left (joined again under another spelling)',
  shutdown: 'left (the server is shutting down)',
  banned: 'was banned by the admin',
  released: 'left (the admin gave the name to a new key)',
  unlinked: 'left (a device unlinked by its owner)',
}

/** Refusals of a join the page can explain better than the server's own message. */
const REFUSAL_TEXTS: Readonly<Partial<Record<ErrorCode, (name: string) => string>>> = {
  name_taken: (name) =>
    `"${name}" is taken: it is bound to another person's key. Choose another name.`,
  name_invalid: () =>
    'That name is not allowed: 3–24 letters, digits, _ or -, starting with a letter.',
  name_reserved: (name) => `"${name}" is reserved. Choose another name.`,
  name_confusable: (name) =>
    `"${name}" looks too much like a name already taken (I, l and 1, O and 0, rn and m … count as one). Choose another name.`,
  auth_failed: () => 'The server could not verify this browser’s key.',
  auth_timeout: () => 'Joining took too long. Try again.',
  link_expired: () =>
    'No device approved this browser before its code ran out. Get a new code to try again.',
  link_invalid: (name) =>
    `Nobody is "${name}" here yet, so there is nothing to link to. Join without linking to take the name.`,
  unlinked: (name) =>
    `Another of your devices unlinked this browser, so it cannot join as "${name}" any more.`,
}

/** Why a join did not go through, as the page found out. */
export type JoinFailure =
  /** The name breaks the rules; the server was not asked. */
  | { readonly kind: 'name'; readonly reason: string }
  /** The room wants its secret: none was given, or a wrong one. */
  | { readonly kind: 'secret'; readonly given: boolean }
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly message: string }
  /** This browser's stored keys for the name cannot be read. */
  | { readonly kind: 'store'; readonly reason: string }
  | { readonly kind: 'unreachable'; readonly reason: string }

/** What the join form says when joining did not work. */
export function joinFailureText(name: string, failure: JoinFailure): string {
  switch (failure.kind) {
    case 'name':
      return `That name is not allowed: ${failure.reason}.`
    case 'secret':
      return failure.given ? 'That room secret is wrong.' : 'This room asks for a secret.'
    case 'refused':
      return REFUSAL_TEXTS[failure.code]?.(name) ?? `The server refused: ${failure.message}`
    case 'store':
      return `This browser's saved keys for "${name}" cannot be used: ${failure.reason}.`
    case 'unreachable':
      return `Cannot reach the chat server (${failure.reason}).`
  }
}

/** The timeline's notices about the room. */
export const NOTICE_TEXTS = {
  /** Stands for this page's own name in a notice. */
  you: 'You',
  joined: (who: string) => `${who} joined`,
  left: (who: string, reason: LeaveReason) => `${who} ${LEAVE_REASON_TEXTS[reason]}`,
  added: (name: string) => `${name} can now read what is sent`,
  removed: (name: string) => `${name} was removed from the group`,
  deviceAdded: (name: string) => `Another device of ${name} can now read what is sent`,
  /** `whose` is a name, or `yours`. */
  deviceRemoved: (whose: string) => `A device of ${whose} was removed from the group`,
  yours: 'yours',
  keyChanged: (name: string) =>
    `The key of ${name} changed. Sending is paused until you accept it.`,
  historyUnreadable: 'Messages sent before you joined cannot be read here: the group keys are new.',
  linked: 'A device of yours approved this one: it is linked to your name.',
  groupIntegrity: (message: string) => `Security warning: ${message}. Nothing of it was applied.`,
  displaced: 'This name joined in another tab with the same key, so this page stopped.',
  unlinked: 'Another of your devices unlinked this one: it is out of the room for good.',
  serverSays: (message: string) => `The server says: ${message}`,
  reloaded: 'Back in the room.',
} as const

/** Linking a new device by its code, and the list of this person's devices. */
export const DEVICE_TEXTS = {
  waiting: (name: string, code: string) =>
    `On a device where you are ${name}, choose Link a device and type this code, or type /link ${code} in the terminal.`,
  timeLeft: (left: string) => `The code works once, for ${left} more.`,
  runOut: 'The code has run out.',
  approved: 'Approved. Joining the room…',
  linked: (count: number) =>
    `Linked. You now have ${count} devices; the new one joins the room in a moment.`,
  unlinked: (fingerprint: string) => `Unlinked the device ${fingerprint}.`,
  confirmUnlink: (name: string) =>
    `Unlink this device? It is put out of the room at once and can never join as ${name} again.`,
  notACode: 'That is not a link code: it is three groups of four letters and digits.',
  mismatch:
    'Not approved: the server offered a device that does not show this code. Check the code on the new device.',
  noSuchCode:
    'No new device of yours shows that code: check it for typos. A code works once, for 5 minutes.',
  refused: (message: string) => `The server refused: ${message}.`,
} as const

/** The history this browser keeps: its separators, and what clearing it says. */
export const HISTORY_TEXTS = {
  earlier: 'Earlier messages on this device',
  newSession: 'New session',
  cleared: (forgotten: number) =>
    `History on this device cleared: ${forgotten} ${forgotten === 1 ? 'message' : 'messages'} forgotten. Others keep their copies.`,
  confirm: 'Clear the messages this browser keeps for this name? Others keep their copies.',
  showEarlier: (hidden: number) =>
    `Show earlier messages (${hidden.toLocaleString('en')} more kept on this device)`,
} as const

/** What the page says when a command it was given could not be done. */
export const PROBLEM_TEXTS = {
  tooLargeToRead: (name: string, size: string) => `${name} is ${size}: too large to send.`,
  cannotSend: (name: string, reason: string) => `Cannot send ${name}: ${reason}.`,
  sendFailed: (reason: string) => `Could not send: ${reason}`,
} as const

/** The engine speaks in lower-case phrases; on the page a notice or a problem is a sentence. */
export function asSentence(phrase: string): string {
  return phrase.charAt(0).toUpperCase() + phrase.slice(1)
}
