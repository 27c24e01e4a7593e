// The MLS settings every party shares, clients and the server's Delivery Service alike: the one
// ciphersuite, the client configuration and how a credential carries a name. No I/O here.
import {
  type CiphersuiteImpl,
  type ClientConfig,
  type Credential,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
} from 'ts-mls'
import { defaultClientConfig } from 'ts-mls/clientConfig.js'
import { constantTimeEqual } from 'ts-mls/util/constantTimeCompare.js'
import { credentialNameBytes } from '../crypto/device-links.ts'
import { checkName } from '../protocol/names.ts'
import { hkdfExpand, hkdfExtract, hmacSha256, sha256 } from './inline-hash.ts'

/** Suite 1: X25519, AES-128-GCM, SHA-256, Ed25519. */
export const CIPHERSUITE_NAME = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'

let suite: Promise<CiphersuiteImpl> | undefined
/**
 * Suite 1 with its SHA-256, HMAC and HKDF computed in-line (inline-hash.ts) instead of one
 * WebCrypto round trip per call. The functions are the same, but MLS calls them per tree node and per secret-tree
 * node: a WebCrypto HMAC is an importKey and a sign, each a promise resolved off-thread, and made
 * HKDF alone about 40 % of a member's time processing a commit at 500 members. The IETF vectors
 * (tests/mls-vectors.test.ts) run against this suite. HPKE and signatures stay as they were.
 */
export function cipherSuite(): Promise<CiphersuiteImpl> {
  suite ??= getCiphersuiteImpl(getCiphersuiteFromName(CIPHERSUITE_NAME)).then((impl) => ({
    ...impl,
    hash: {
      digest: async (data) => sha256(data),
      mac: async (key, data) => hmacSha256(key, data),
      verifyMac: async (key, mac, data) => constantTimeEqual(mac, hmacSha256(key, data)),
    },
    kdf: {
      extract: async (salt, ikm) => hkdfExtract(salt, ikm),
      expand: async (prk, info, length) => hkdfExpand(prk, info, length),
      size: impl.kdf.size,
    },
  }))
  return suite
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * The name a credential carries, if it is a basic credential holding a name under the rules (and,
 * for a linked device, well-formed approvals after it: shared/crypto/device-links.ts).
 */
export function credentialName(credential: Credential): string | undefined {
  if (credential.credentialType !== 'basic') return undefined
  const nameBytes = credentialNameBytes(credential.identity)
  if (!nameBytes) return undefined
  try {
    const name = utf8Decoder.decode(nameBytes)
    return checkName(name).ok ? name : undefined
  } catch {
    return undefined
  }
}

/**
 * Credentials are names under the server's rules. Which key a name may have is checked by the
 * caller against the server's bindings and the user's pins, because a changed key needs the user,
 * not a refusal deep inside the MLS library.
 */
export const clientConfig: ClientConfig = {
  ...defaultClientConfig,
  authService: {
    async validateCredential(credential) {
      return credentialName(credential) !== undefined
    },
  },
}
