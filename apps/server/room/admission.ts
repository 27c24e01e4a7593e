// Admission: the room secret, hello → challenge → signed auth, and the claim on the name. Knows
// nothing of the members already in the room, the log, the Delivery Service or connections.
import { verifyIdentitySignature } from '../../../shared/crypto/identity-key.ts'
import { encodeBase64url } from '../../../shared/protocol/base64url.ts'
import {
  authMessage,
  type ErrorCode,
  type ErrorFrame,
  errorFrame,
  type HelloFrame,
  type Member,
} from '../../../shared/protocol/frames.ts'
import { checkName } from '../../../shared/protocol/names.ts'
import type { ClaimResult, IdentityStore, MaybePromise } from './ports.ts'
import { secretsEqual } from './secret.ts'

/** A hello the room answered: who claims to be whom, and the nonce their key must sign. */
export interface Challenge {
  readonly member: Member
  readonly nonce: string
}

export type HelloVerdict =
  | { readonly kind: 'challenge'; readonly challenge: Challenge }
  /** Said, not held against the connection: it did not know the room asks for a secret. */
  | { readonly kind: 'tell'; readonly frame: ErrorFrame }
  /** An invalid hello: counted against the connection, which may say hello again. */
  | { readonly kind: 'reject'; readonly code: ErrorCode; readonly message: string }
  /** The connection is closed. */
  | { readonly kind: 'fail'; readonly code: ErrorCode; readonly message: string }

export interface Admission {
  hello(frame: HelloFrame): HelloVerdict
  /** Whether `signature` is the claimed key's, over this challenge's nonce and name. */
  verify(challenge: Challenge, signature: string): Promise<boolean>
  /** Binds the name to the key on first use; 'conflict' when another key holds it. */
  claim(member: Member): MaybePromise<ClaimResult>
}

export interface AdmissionOptions {
  readonly identities: IdentityStore
  /** When set, `hello` must carry it. */
  readonly secret: string | undefined
  readonly now: () => number
  readonly randomBytes: (length: number) => Uint8Array
}

const ASK_FOR_SECRET = errorFrame('bad_secret', 'this room asks for a secret', false)

export function createAdmission(options: AdmissionOptions): Admission {
  const { identities, secret, now, randomBytes } = options
  return {
    hello(frame) {
      if (secret !== undefined) {
        if (frame.secret === undefined) return { kind: 'tell', frame: ASK_FOR_SECRET }
        if (!secretsEqual(frame.secret, secret)) {
          return { kind: 'fail', code: 'bad_secret', message: 'wrong room secret' }
        }
      }
      const check = checkName(frame.name)
      if (!check.ok) {
        return {
          kind: 'reject',
          code: check.code ?? 'name_invalid',
          message: check.message ?? 'invalid name',
        }
      }
      const member = { name: frame.name, identityKey: frame.identityKey }
      return { kind: 'challenge', challenge: { member, nonce: encodeBase64url(randomBytes(32)) } }
    },
    verify: ({ member, nonce }, signature) =>
      verifyIdentitySignature(member.identityKey, signature, authMessage(nonce, member.name)),
    claim: ({ name, identityKey }) => identities.claim(name, identityKey, now()),
  }
}
