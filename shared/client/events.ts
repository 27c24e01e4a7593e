// What the client engine tells a view: one union of events, as plain data. Views render these
// and nothing else; they never see frames, MLS or sockets.
import type { ErrorCode, LeaveReason } from '../protocol/frames.ts'

export type ConnectionStatus =
  | 'connecting'
  /** In the room, waiting to be added to the MLS group (or founding it). */
  | 'joining'
  /** In the group: messages can be sent and read. */
  | 'ready'
  | 'reconnecting'
  | 'closed'

export interface MessageEvent {
  readonly type: 'message'
  readonly id: string
  readonly seq: number
  readonly at: number
  /** The sender MLS authenticated. */
  readonly from: string
  readonly own: boolean
  /** Set on what another device of this person sent (`own` is true): this device did not send it. */
  readonly otherDevice?: true
  readonly text: string
  /** Set when the server claimed another sender than the one MLS authenticated. */
  readonly claimedBy?: string
}

export interface FileEvent {
  readonly type: 'file'
  readonly id: string
  readonly seq: number
  readonly at: number
  readonly from: string
  readonly own: boolean
  /** Set on what another device of this person sent (`own` is true): this device did not send it. */
  readonly otherDevice?: true
  /** As the sender named it; sanitize before saving (files.ts). */
  readonly name: string
  /** The original size; more than `bytes.length` when `truncated`. */
  readonly size: number
  readonly truncated: boolean
  readonly sha256: string
  readonly bytes: Uint8Array
  readonly claimedBy?: string
}

/** An own message as the views draw it before the room's log has it. */
export type OutgoingContent =
  | { readonly kind: 'text'; readonly text: string }
  | {
      readonly kind: 'file'
      readonly name: string
      readonly size: number
      readonly truncated: boolean
      readonly sha256: string
      readonly bytes: Uint8Array
    }

/**
 * An own message on its way: `pending` as soon as it is sent (connected or not), `sent` once the
 * room's log shows it (its own `message` or `file` event comes just before), or `failed` with the
 * reason — until `retry(id)` makes it `pending` again. A failed one seen in the log later is `sent`.
 */
export interface DeliveryEvent {
  readonly type: 'delivery'
  readonly id: string
  readonly state: 'pending' | 'sent' | 'failed'
  /** When the user sent it, by this device's clock. */
  readonly at: number
  readonly content: OutgoingContent
  /** Why it failed, for the user (may quote the server). */
  readonly reason?: string
}

export type ChatEvent =
  | { readonly type: 'status'; readonly status: ConnectionStatus; readonly detail?: string }
  | MessageEvent
  | FileEvent
  | DeliveryEvent
  | {
      readonly type: 'presence'
      readonly event: 'join' | 'leave'
      readonly name: string
      readonly at: number
      readonly reason?: LeaveReason
    }
  /**
   * One device of someone online already came or went: the person's presence is unchanged (no
   * `presence` event), but a list of devices is not.
   */
  | {
      readonly type: 'device-presence'
      readonly event: 'join' | 'leave'
      readonly name: string
      readonly identityKey: string
    }
  /** The MLS group changed: who can read what is sent from now on. */
  | {
      readonly type: 'membership'
      readonly epoch: number
      readonly members: string[]
      readonly added: string[]
      readonly removed: string[]
      readonly roomCode: string
    }
  /** A known name shows up with another key: sending waits until the user accepts it. */
  | {
      readonly type: 'key-change'
      readonly name: string
      readonly previousKey: string
      readonly newKey: string
    }
  /**
   * This new device waits to be linked: show the code, to be typed on a device of the same name
   * (`/link CODE` or "Link a device") before `expiresAt`.
   */
  | { readonly type: 'link-code'; readonly code: string; readonly expiresAt: number }
  /** A device of the name approved this one: it joins the room as that person. */
  | { readonly type: 'linked' }
  /** Something that must not pass silently: a forged sender, an undecryptable message, … */
  | { readonly type: 'warning'; readonly code: WarningCode; readonly message: string }
  /** The server refused something (its error code and message). */
  | {
      readonly type: 'error'
      readonly code: ErrorCode
      readonly message: string
      readonly fatal: boolean
      /** Own messages this refusal failed: their `delivery` events say it, on each of them. */
      readonly failed?: readonly string[]
    }

export type WarningCode =
  | 'sender_mismatch'
  | 'undecryptable'
  | 'bad_payload'
  | 'bad_file'
  /** A commit or Welcome was refused: it would have put a member or a group state here that the
   * server never vouched for. A security warning in both views. */
  | 'group_integrity'
  | 'commit_failed'
  | 'out_of_sync'
  | 'refused_add'
  | 'history_unreadable'
  | 'protocol'

export type ChatListener = (event: ChatEvent) => void
