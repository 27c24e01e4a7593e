// One person, several devices: how a device that already holds a name approves a new one, how the
// approvals travel inside the new device's MLS credential, and the short code a person reads from
// one screen and types on the other. Runs in Bun and in browsers alike; no I/O.
import { sha256 } from '@noble/hashes/sha2.js'
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import type { DeviceLink } from '../protocol/frames.ts'
import { MAX_DEVICES } from '../protocol/limits.ts'
import { nameKey } from '../protocol/names.ts'
import { verifyIdentitySignature } from './identity-key.ts'

/**
 * A device's links run from its own approval up to the person's first key, which approves itself
 * by holding the name; each link is the device with key `by` signing `approvalMessage(name, key)`
 * for the device below it.
 */
export type { DeviceLink }

/** What an approving device signs: this key is another device of this name. */
export function approvalMessage(name: string, deviceKey: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`chatbox-device-v1\n${nameKey(name)}\n${deviceKey}`)
}

/**
 * The person's key: the first key of the chain, once every approval in it verifies. Undefined for
 * a broken chain, one longer than a person may have devices, or one that loops.
 */
export async function personKeyOf(
  name: string,
  deviceKey: string,
  links: readonly DeviceLink[],
): Promise<string | undefined> {
  if (links.length >= MAX_DEVICES) return undefined
  const seen = new Set([deviceKey])
  let key = deviceKey
  for (const link of links) {
    if (seen.has(link.by)) return undefined
    if (!(await approvalVerifies(name, key, link))) return undefined
    seen.add(link.by)
    key = link.by
  }
  return key
}

/**
 * Approvals already verified, by everything the verdict depends on. A client reads every leaf's
 * approvals after each commit and on every listing of the members; each is an Ed25519 check, the
 * same answer every time. Bounded: past the bound it starts afresh.
 */
const verified = new Set<string>()
const MAX_VERIFIED = 4096

async function approvalVerifies(name: string, key: string, link: DeviceLink): Promise<boolean> {
  const id = `${nameKey(name)}\n${key}\n${link.by}\n${link.signature}`
  if (verified.has(id)) return true
  if (!(await verifyIdentitySignature(link.by, link.signature, approvalMessage(name, key)))) {
    return false
  }
  if (verified.size >= MAX_VERIFIED) verified.clear()
  verified.add(id)
  return true
}

// ---- in the credential ------------------------------------------------------------------------

const KEY_BYTES = 32
const SIGNATURE_BYTES = 64
const LINK_BYTES = KEY_BYTES + SIGNATURE_BYTES
/** Names are ASCII without control characters (NAME_PATTERN), so a zero byte ends one. */
const NAME_END = 0

/**
 * A basic credential's identity: the name alone for a person's first device (as every credential
 * was before devices), the name, a zero byte and each link's key and signature for a linked one.
 */
export function credentialIdentity(name: string, links: readonly DeviceLink[]): Uint8Array {
  const nameBytes = new TextEncoder().encode(name)
  if (links.length === 0) return nameBytes
  const bytes = new Uint8Array(nameBytes.length + 1 + links.length * LINK_BYTES)
  bytes.set(nameBytes)
  bytes[nameBytes.length] = NAME_END
  links.forEach((link, index) => {
    const at = nameBytes.length + 1 + index * LINK_BYTES
    bytes.set(decodeBase64url(link.by), at)
    bytes.set(decodeBase64url(link.signature), at + KEY_BYTES)
  })
  return bytes
}

/** The name bytes and links of a credential identity; undefined when the links are cut short. */
export function readCredentialIdentity(
  identity: Uint8Array,
): { readonly nameBytes: Uint8Array; readonly links: DeviceLink[] } | undefined {
  const nameBytes = credentialNameBytes(identity)
  if (!nameBytes) return undefined
  if (nameBytes.length === identity.length) return { nameBytes, links: [] }
  const rest = identity.subarray(nameBytes.length + 1)
  const links: DeviceLink[] = []
  for (let at = 0; at < rest.length; at += LINK_BYTES) {
    links.push({
      by: encodeBase64url(rest.subarray(at, at + KEY_BYTES)),
      signature: encodeBase64url(rest.subarray(at + KEY_BYTES, at + LINK_BYTES)),
    })
  }
  return { nameBytes, links }
}

/**
 * The name's bytes alone, from a well-formed identity: what every message's sender needs, with
 * none of the approvals decoded (readCredentialIdentity does that, for the group's checks).
 */
export function credentialNameBytes(identity: Uint8Array): Uint8Array | undefined {
  const end = identity.indexOf(NAME_END)
  if (end === -1) return identity
  const rest = identity.length - end - 1
  if (rest === 0 || rest % LINK_BYTES !== 0) return undefined
  return identity.subarray(0, end)
}

// ---- link codes -------------------------------------------------------------------------------

/** Crockford's base32: no I, L, O or U, so a code read aloud is not misheard or mistyped. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const CODE_GROUPS = 3
const GROUP_LENGTH = 4

/**
 * The code a new device shows: 60 bits of a digest of its name, key and a nonce it chose. The
 * approving device computes it again from what the server relays, so a server that swapped in a
 * key of its own would have to find one whose digest gives the code the person typed: 2^60 tries
 * in the few minutes a code is valid.
 */
export function linkCode(name: string, deviceKey: string, nonce: string): string {
  const digest = sha256(
    new TextEncoder().encode(`chatbox-link-v1\n${nameKey(name)}\n${deviceKey}\n${nonce}`),
  )
  let bits = 0n
  for (const byte of digest.subarray(0, 8)) bits = (bits << 8n) | BigInt(byte)
  let code = ''
  for (let index = 0; index < CODE_GROUPS * GROUP_LENGTH; index += 1) {
    code += CODE_ALPHABET[Number((bits >> BigInt(59 - index * 5)) & 31n)]
    if (index % GROUP_LENGTH === GROUP_LENGTH - 1 && index < CODE_GROUPS * GROUP_LENGTH - 1)
      code += '-'
  }
  return code
}

/** A code as typed, in the form `linkCode` gives: case, spaces and look-alikes forgiven. */
export function normalizeLinkCode(typed: string): string | undefined {
  const plain = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1')
  if (plain.length !== CODE_GROUPS * GROUP_LENGTH) return undefined
  if ([...plain].some((char) => !CODE_ALPHABET.includes(char))) return undefined
  return plain.match(new RegExp(`.{${GROUP_LENGTH}}`, 'g'))?.join('-')
}
