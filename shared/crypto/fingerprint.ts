// What people compare by eye to trust keys and group state: fingerprints, safety numbers, room
// codes. Pure hashing (WebCrypto, noble SHA-512); knows nothing of where keys come from or how they are shown.
import { sha512 } from '@noble/hashes/sha2.js'
import { decodeBase64url } from '../protocol/base64url.ts'
import { nameKey } from '../protocol/names.ts'

const ED25519_PUBLIC_KEY_BYTES = 32
/** Signal's NumericFingerprintGenerator: enough rounds to make grinding a near-collision slow. */
const SAFETY_NUMBER_ITERATIONS = 5200
const SAFETY_NUMBER_VERSION = new Uint8Array([0x00, 0x00])
const ROOM_CODE_LABEL = new TextEncoder().encode('chatbox room code v1')

export interface SafetyNumberParty {
  readonly name: string
  readonly identityKey: string
}

/** Rejects anything but a 32-byte key, so a typo never yields a plausible-looking number. */
function decodeIdentityKey(identityKey: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeBase64url(identityKey)
  if (bytes.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new Error(`an identity key is ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${bytes.length}`)
  }
  return bytes
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Big-endian unsigned integer of up to 6 bytes: still exact in a double. */
function readUintBE(bytes: Uint8Array, start: number, length: number): number {
  let value = 0
  for (let i = start; i < start + length; i++) value = value * 256 + (bytes[i] ?? 0)
  return value
}

function groupDigits(digits: string, size: number, separator: string): string {
  const groups: string[] = []
  for (let i = 0; i < digits.length; i += size) groups.push(digits.slice(i, i + size))
  return groups.join(separator)
}

/** First 16 bytes of SHA-256 of the raw key, as `3f2a 91c0 …` (8 groups of 4 hex). */
export async function keyFingerprint(identityKey: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', decodeIdentityKey(identityKey)),
  )
  return groupDigits(digest.slice(0, 16).toHex(), 4, ' ')
}

/** One party's 30 digits, exactly as Signal derives them (with a raw key, no type byte). */
async function partyDigits(party: SafetyNumberParty): Promise<string> {
  const key = decodeIdentityKey(party.identityKey)
  const name = new TextEncoder().encode(nameKey(party.name))
  let hash: Uint8Array = concatBytes(SAFETY_NUMBER_VERSION, key, name)
  // After the first round the input is always digest || key: reuse one buffer for it.
  const round = new Uint8Array(64 + key.length)
  round.set(key, 64)
  // 5200 rounds: synchronous SHA-512 takes ~45 ms where awaiting WebCrypto each round took ~270.
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) {
    const input = i === 0 ? concatBytes(hash, key) : round
    hash = sha512(input)
    round.set(hash, 0)
  }
  let digits = ''
  for (let chunk = 0; chunk < 6; chunk++) {
    digits += String(readUintBE(hash, chunk * 5, 5) % 100_000).padStart(5, '0')
  }
  return digits
}

/**
 * 60 digits in 12 groups of 5 that both parties see identically: each side's 30 digits, sorted
 * so that the order of the arguments does not matter.
 */
export async function safetyNumber(a: SafetyNumberParty, b: SafetyNumberParty): Promise<string> {
  const parties = await Promise.all([partyDigits(a), partyDigits(b)])
  return groupDigits(parties.sort().join(''), 5, ' ')
}

/**
 * The one layout of a safety number in every client: 3 rows of 4 groups of 5 digits, in order,
 * as Signal shows it. Read aloud a row at a time (20 digits, 4 breaths), and 23 characters wide,
 * so it fits a phone's dialog and the narrowest terminal pane without wrapping mid-row.
 */
export function safetyNumberRows(number: string): string[][] {
  return rowsOf(number, 4)
}

/** A key fingerprint's 8 groups of 4 hex digits as 2 rows of 4. */
export function fingerprintRows(fingerprint: string): string[][] {
  return rowsOf(fingerprint, 4)
}

function rowsOf(text: string, groupsPerRow: number): string[][] {
  const groups = text.split(' ').filter((group) => group !== '')
  const rows: string[][] = []
  for (let i = 0; i < groups.length; i += groupsPerRow) rows.push(groups.slice(i, i + groupsPerRow))
  return rows
}

/** 12 digits as `0412-9981-3307`, short enough to read aloud to confirm a shared MLS epoch. */
export async function roomCode(epochAuthenticator: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', concatBytes(ROOM_CODE_LABEL, epochAuthenticator)),
  )
  const code = String(readUintBE(digest, 0, 5) % 1_000_000_000_000).padStart(12, '0')
  return groupDigits(code, 4, '-')
}
