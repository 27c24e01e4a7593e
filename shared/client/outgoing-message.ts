// One own message on its way, as the outbox tracks it, and what it becomes: the delivery event
// views draw, and the record the device keeps between sessions (stores.ts). Pure.
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import type { DeliveryEvent, OutgoingContent } from './events.ts'
import { decodePayload, encodePayload, type Payload } from './payload.ts'
import type { OutgoingRecord } from './stores.ts'

export interface Outgoing {
  readonly payload: Payload
  readonly at: number
  state: DeliveryEvent['state']
  /** The latest ciphertext, and the group state it was made in. */
  made?: { readonly ciphertext: string; readonly groupId: string; readonly epoch: number }
  /** Sent on the connection open now: a refusal on it may be this message's. */
  onWire: boolean
  reason?: string
  /** Kept by an earlier session before it was encrypted: `resend` encrypts and sends it. */
  restored?: boolean
  /** The payload as the plaintext it encrypts, base64url, once the device keeps it. */
  kept?: string
}

function contentOf(payload: Payload): OutgoingContent {
  if (payload.kind === 'text') return { kind: 'text', text: payload.text }
  const { name, size, truncated, sha256, bytes } = payload
  return { kind: 'file', name, size, truncated, sha256, bytes }
}

export function deliveryEventOf(outgoing: Outgoing): DeliveryEvent {
  const { payload, at, state, reason } = outgoing
  return {
    type: 'delivery',
    id: payload.id,
    state,
    at,
    content: contentOf(payload),
    ...(reason === undefined ? {} : { reason }),
  }
}

/** What the device keeps of it; the payload is encoded once, however often it is kept. */
export function recordOf(outgoing: Outgoing): OutgoingRecord {
  outgoing.kept ??= encodeBase64url(encodePayload(outgoing.payload))
  const { payload, at, state, reason, made, kept } = outgoing
  return {
    id: payload.id,
    at,
    state: state === 'failed' ? 'failed' : 'pending',
    plaintext: kept,
    ...(reason === undefined ? {} : { reason }),
    ...(made ? { made } : {}),
  }
}

/** A kept record as the message on its way again; undefined when its payload does not decode. */
export function outgoingOf(record: OutgoingRecord): Outgoing | undefined {
  const decoded = decodePayload(decodeBase64url(record.plaintext))
  if (!decoded.ok || decoded.payload.id !== record.id) return undefined
  return {
    payload: decoded.payload,
    at: record.at,
    state: record.state,
    onWire: false,
    kept: record.plaintext,
    ...(record.reason === undefined ? {} : { reason: record.reason }),
    ...(record.made ? { made: record.made } : { restored: true }),
  }
}
