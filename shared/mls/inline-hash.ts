// SHA-256, HMAC-SHA-256 and HKDF-SHA-256 computed in-line, for the MLS suite: Bun's native hasher
// where the code runs on Bun (server, terminal client), noble's in a browser. Pure functions of
// bytes; no I/O and nothing about MLS here.
import { hmac as nobleHmac } from '@noble/hashes/hmac.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'

const HASH_LENGTH = 32

/**
 * Bun's CryptoHasher, where there is one: about 20× faster than noble for a short HMAC. Its digest
 * is a Buffer; it is copied into a plain Uint8Array so that byte comparisons see the same type.
 */
const Hasher = (globalThis as { Bun?: { CryptoHasher: typeof Bun.CryptoHasher } }).Bun?.CryptoHasher

export const sha256: (data: Uint8Array) => Uint8Array = Hasher
  ? (data) => new Uint8Array(new Hasher('sha256').update(data).digest())
  : (data) => nobleSha256(data)

export const hmacSha256: (key: Uint8Array, data: Uint8Array) => Uint8Array = Hasher
  ? (key, data) => new Uint8Array(new Hasher('sha256', key).update(data).digest())
  : (key, data) => nobleHmac(nobleSha256, key, data)

/** HKDF-Extract (RFC 5869 §2.2): an empty salt is the same HMAC key as a zero one. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return hmacSha256(salt, ikm)
}

/** HKDF-Expand (RFC 5869 §2.3): T(i) = HMAC(PRK, T(i−1) ‖ info ‖ i), up to 255 blocks. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (length > 255 * HASH_LENGTH) throw new Error('HKDF-Expand asked for too many bytes')
  const out = new Uint8Array(length)
  let previous: Uint8Array = new Uint8Array(0)
  for (let block = 1, at = 0; at < length; block += 1) {
    const input = new Uint8Array(previous.length + info.length + 1)
    input.set(previous)
    input.set(info, previous.length)
    input[input.length - 1] = block
    previous = hmacSha256(prk, input)
    out.set(previous.subarray(0, length - at), at)
    at += HASH_LENGTH
  }
  return out
}
