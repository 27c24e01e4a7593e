// Long-term Ed25519 identity keys: make, export, sign and verify with WebCrypto, in Bun and in
// browsers alike. Knows nothing of where keys are kept.
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'

const ED25519 = { name: 'Ed25519' } as const

export interface IdentityKeyPair {
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  /** The raw 32-byte public key, base64url: what the server and peers know this identity by. */
  readonly publicKeyText: string
  /** PKCS#8 bytes of the private key: MLS signs with the same key, and ts-mls takes bytes. */
  readonly privateKeyBytes: Uint8Array
  readonly publicKeyBytes: Uint8Array
}

/** The identity as text, for a store: PKCS#8 private key and raw public key, base64url. */
export interface ExportedIdentity {
  readonly privateKey: string
  readonly publicKey: string
}

export async function createIdentityKeyPair(): Promise<IdentityKeyPair> {
  const pair = (await crypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair
  return identityFromKeys(pair.privateKey, pair.publicKey)
}

export async function identityFromKeys(
  privateKey: CryptoKey,
  publicKey: CryptoKey,
): Promise<IdentityKeyPair> {
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', publicKey))
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey))
  return {
    privateKey,
    publicKey,
    publicKeyText: encodeBase64url(raw),
    privateKeyBytes: pkcs8,
    publicKeyBytes: raw,
  }
}

export function exportIdentity(identity: IdentityKeyPair): ExportedIdentity {
  return {
    privateKey: encodeBase64url(identity.privateKeyBytes),
    publicKey: identity.publicKeyText,
  }
}

/** Throws when the two halves are not a valid Ed25519 pair of each other. */
export async function importIdentity(exported: ExportedIdentity): Promise<IdentityKeyPair> {
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    decodeBase64url(exported.privateKey),
    ED25519,
    true,
    ['sign'],
  )
  const publicKey = await crypto.subtle.importKey(
    'raw',
    decodeBase64url(exported.publicKey),
    ED25519,
    true,
    ['verify'],
  )
  const identity = await identityFromKeys(privateKey, publicKey)
  const probe = new TextEncoder().encode('chatbox identity check')
  const signature = await signWithIdentity(identity, probe)
  if (!(await verifyIdentitySignature(identity.publicKeyText, signature, probe))) {
    throw new Error('the stored identity keys do not belong together')
  }
  return identity
}

export async function signWithIdentity(
  identity: IdentityKeyPair,
  message: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const signature = await crypto.subtle.sign(ED25519, identity.privateKey, message)
  return encodeBase64url(new Uint8Array(signature))
}

/** False for a wrong signature and for a key or signature that is not even well-formed. */
export async function verifyIdentitySignature(
  publicKeyText: string,
  signatureText: string,
  message: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey(
      'raw',
      decodeBase64url(publicKeyText),
      ED25519,
      false,
      ['verify'],
    )
    return await crypto.subtle.verify(ED25519, key, decodeBase64url(signatureText), message)
  } catch {
    return false
  }
}

/** The same identity keys, each as often, in any order. Keys are case-sensitive, unlike names. */
export function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n')
}
