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
import { checkName } from '../protocol/names.ts'

/** Suite 1: X25519, AES-128-GCM, SHA-256, Ed25519. */
export const CIPHERSUITE_NAME = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'

let suite: Promise<CiphersuiteImpl> | undefined
export function cipherSuite(): Promise<CiphersuiteImpl> {
  suite ??= getCiphersuiteImpl(getCiphersuiteFromName(CIPHERSUITE_NAME))
  return suite
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** The name a credential carries, if it is a basic credential holding a name under the rules. */
export function credentialName(credential: Credential): string | undefined {
  if (credential.credentialType !== 'basic') return undefined
  try {
    const name = utf8Decoder.decode(credential.identity)
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
