// The fields frames are made of, as valibot schemas: keys, names, numbers, base64url. Shared by
// every frame schema (frames.ts, device-frames.ts); nothing here is a frame.
import * as v from 'valibot'
import { BASE64URL_PATTERN, isCanonicalBase64url } from './base64url.ts'
import { NAME_MAX_LENGTH, NAME_PATTERN } from './limits.ts'

export const Base64url = v.pipe(
  v.string(),
  v.regex(BASE64URL_PATTERN, 'not base64url'),
  v.check(isCanonicalBase64url, 'not canonical base64url'),
)
/** An Ed25519 public key: 32 bytes → 43 base64url characters. */
export const IdentityKey = v.pipe(
  v.string(),
  v.length(43),
  v.regex(BASE64URL_PATTERN, 'not base64url'),
)
/** Names are checked against the rules by the room, which answers with a precise error code. */
export const Name = v.pipe(v.string(), v.minLength(1), v.maxLength(NAME_MAX_LENGTH * 4))
/**
 * A name the server sends: only one it let in, so a frame with any other (escapes, a newline) is
 * refused before a view could show it. The message never echoes the refused text.
 */
export const BoundName = v.pipe(
  v.string(),
  v.regex(NAME_PATTERN, 'not a name the server could bind'),
)
export const Seq = v.pipe(v.number(), v.integer(), v.minValue(0))
export const Epoch = v.pipe(v.number(), v.integer(), v.minValue(0))
export const Timestamp = v.pipe(v.number(), v.integer())
/** An MLS group id: 16 random bytes chosen by the founder. */
export const GroupId = v.pipe(v.string(), v.length(22), v.regex(BASE64URL_PATTERN, 'not base64url'))
/** base64url of at most `bytes` bytes. */
export const Base64urlOf = (bytes: number) =>
  v.pipe(Base64url, v.maxLength(Math.ceil((bytes * 4) / 3)))
/** An invite code: 16 random bytes, 22 base64url characters. */
export const InviteCode = v.pipe(
  v.string(),
  v.length(22),
  v.regex(BASE64URL_PATTERN, 'not base64url'),
)
/** A SHA-256 digest: 32 bytes → 43 base64url characters. */
export const Digest = v.pipe(v.string(), v.length(43), v.regex(BASE64URL_PATTERN, 'not base64url'))
/** An Ed25519 signature: 64 bytes → 86 base64url characters. */
export const Signature = v.pipe(
  v.string(),
  v.length(86),
  v.regex(BASE64URL_PATTERN, 'not base64url'),
)
