// The plaintext inside each MLS application message: bytes ⇄ text or file. Knows nothing of MLS,
// transports or how files are read and saved.
import * as v from 'valibot'
import { encodeBase64url } from '../protocol/base64url.ts'

export const MAX_TEXT_BYTES = 64 * 1024
/** A header is a few short fields; anything longer is a bug or an attempt to waste memory. */
export const MAX_HEADER_BYTES = 4096
const LENGTH_PREFIX_BYTES = 4

const MessageId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a message id'))

export const TextHeaderSchema = v.object({ kind: v.literal('text'), id: MessageId })

export const FileHeaderSchema = v.object({
  kind: v.literal('file'),
  id: MessageId,
  /** As the sender named it; receivers sanitize it before saving. */
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(255)),
  /** The original size, so a truncated file can say how much is missing. */
  size: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  /** Of the body as sent, not of the original file. */
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'not a lowercase SHA-256 hex digest')),
  truncated: v.boolean(),
})

export const PayloadHeaderSchema = v.variant('kind', [TextHeaderSchema, FileHeaderSchema])
export type PayloadHeader = v.InferOutput<typeof PayloadHeaderSchema>

export type TextPayload = v.InferOutput<typeof TextHeaderSchema> & { readonly text: string }
export type FilePayload = v.InferOutput<typeof FileHeaderSchema> & { readonly bytes: Uint8Array }
export type Payload = TextPayload | FilePayload

export type DecodedPayload =
  | { readonly ok: true; readonly payload: Payload }
  | { readonly ok: false; readonly reason: string }

const encoder = new TextEncoder()
// fatal: invalid UTF-8 is refused, not patched with U+FFFD; ignoreBOM: a leading U+FEFF is
// content the sender typed, so it must survive the round trip.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function headerOf(payload: Payload): PayloadHeader {
  if (payload.kind === 'text') return { kind: 'text', id: payload.id }
  const { kind, id, name, size, sha256, truncated } = payload
  return { kind, id, name, size, sha256, truncated }
}

function describeIssue(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0]
  const path = issue?.path?.map((item) => String(item.key)).join('.')
  return `the payload header is invalid${path ? ` at ${path}` : ''}: ${issue?.message}`
}

/** The body rules the schema cannot see because the body is not in the header. */
function bodyProblem(header: PayloadHeader, body: Uint8Array): string | undefined {
  if (header.kind === 'text') {
    if (body.length > MAX_TEXT_BYTES) {
      return `a text message is at most ${MAX_TEXT_BYTES} bytes, got ${body.length}`
    }
    return undefined
  }
  if (header.truncated && body.length >= header.size) {
    return `a truncated file sends less than its ${header.size} bytes, got ${body.length}`
  }
  if (!header.truncated && body.length !== header.size) {
    return `a whole file of ${header.size} bytes was announced, got ${body.length}`
  }
  return undefined
}

/** Throws on a payload that `decodePayload` would refuse: that is a bug in the sender. */
export function encodePayload(payload: Payload): Uint8Array {
  const parsed = v.safeParse(PayloadHeaderSchema, headerOf(payload))
  if (!parsed.success) throw new Error(describeIssue(parsed.issues))
  const header = encoder.encode(JSON.stringify(parsed.output))
  // Lone surrogates in text become U+FFFD here: UTF-8 cannot carry them.
  const body = payload.kind === 'text' ? encoder.encode(payload.text) : payload.bytes
  const problem =
    header.length > MAX_HEADER_BYTES
      ? `the payload header is ${header.length} bytes, over ${MAX_HEADER_BYTES}`
      : bodyProblem(parsed.output, body)
  if (problem) throw new Error(problem)

  const out = new Uint8Array(LENGTH_PREFIX_BYTES + header.length + body.length)
  new DataView(out.buffer).setUint32(0, header.length)
  out.set(header, LENGTH_PREFIX_BYTES)
  out.set(body, LENGTH_PREFIX_BYTES + header.length)
  return out
}

/** Never throws: whatever a peer encrypted, the receiver gets a payload or a reason. */
export function decodePayload(bytes: Uint8Array): DecodedPayload {
  if (bytes.length < LENGTH_PREFIX_BYTES) {
    return { ok: false, reason: 'the payload is shorter than its length prefix' }
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
  if (headerLength > MAX_HEADER_BYTES) {
    return {
      ok: false,
      reason: `the payload header is ${headerLength} bytes, over ${MAX_HEADER_BYTES}`,
    }
  }
  const bodyStart = LENGTH_PREFIX_BYTES + headerLength
  if (bodyStart > bytes.length) {
    return { ok: false, reason: 'the payload header runs past the end of the payload' }
  }

  let json: unknown
  try {
    json = JSON.parse(strictDecoder.decode(bytes.subarray(LENGTH_PREFIX_BYTES, bodyStart)))
  } catch {
    return { ok: false, reason: 'the payload header is not UTF-8 JSON' }
  }
  const parsed = v.safeParse(PayloadHeaderSchema, json)
  if (!parsed.success) return { ok: false, reason: describeIssue(parsed.issues) }
  const header = parsed.output

  // A copy, so the payload neither pins nor aliases the decrypted buffer.
  const body = bytes.slice(bodyStart)
  const problem = bodyProblem(header, body)
  if (problem) return { ok: false, reason: problem }
  if (header.kind === 'file') return { ok: true, payload: { ...header, bytes: body } }

  let text: string
  try {
    text = strictDecoder.decode(body)
  } catch {
    return { ok: false, reason: 'the text message is not valid UTF-8' }
  }
  return { ok: true, payload: { ...header, text } }
}

/** 128 random bits: unique without coordination, short enough for every message. */
export function newMessageId(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(16)))
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // The copy gives WebCrypto the plain ArrayBuffer it requires, whatever backs `bytes`.
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes))).toHex()
}

/** The receiver's check that the body is what the sender hashed. */
export async function fileDigestMatches(payload: FilePayload): Promise<boolean> {
  return (await sha256Hex(payload.bytes)) === payload.sha256
}
