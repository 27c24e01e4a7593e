// The application ciphertexts this client read lately, to know an exact copy the log shows again
// (a resend after a failover, or a server replaying one). Kept as digests: a file's ciphertext can
// be over a megabyte. Knows nothing of MLS, sockets or what a message says.

import { sha256 } from '../mls/inline-hash.ts'
import { encodeBase64url } from '../protocol/base64url.ts'

/** Copies come back within a reconnect's replay, far sooner than this many messages later. */
export const SEEN_CIPHERTEXTS = 4096

export interface SeenCiphertexts {
  /** Whether this ciphertext, by its digest (`digestOf`), was read before. */
  has(digest: string): boolean
  /** Records one as read; the oldest is forgotten past the limit. */
  add(digest: string): void
}

const encoder = new TextEncoder()

/** SHA-256 of the ciphertext as the wire carries it: a copy is the same text, byte for byte. */
export function digestOf(ciphertext: string): string {
  return encodeBase64url(sha256(encoder.encode(ciphertext)))
}

export function createSeenCiphertexts(limit = SEEN_CIPHERTEXTS): SeenCiphertexts {
  // A Set keeps insertion order: its first value is the oldest.
  const seen = new Set<string>()
  return {
    has: (digest) => seen.has(digest),
    add(digest) {
      seen.add(digest)
      if (seen.size > limit) seen.delete(seen.values().next().value as string)
    },
  }
}
