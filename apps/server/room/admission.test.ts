import { describe, expect, test } from 'bun:test'
import { createIdentityKeyPair, signWithIdentity } from '../../../shared/crypto/identity-key.ts'
import { encodeBase64url } from '../../../shared/protocol/base64url.ts'
import { authMessage, type HelloFrame } from '../../../shared/protocol/frames.ts'
import { type AdmissionOptions, type Challenge, createAdmission } from './admission.ts'
import { createMemoryStores } from './memory-stores.ts'

const KEY = 'A'.repeat(43)

function admission(options: Partial<AdmissionOptions> = {}) {
  return createAdmission({
    identities: createMemoryStores(10).identities,
    secret: undefined,
    now: () => 1,
    randomBytes: (length) => new Uint8Array(length).fill(7),
    ...options,
  })
}

function hello(name: string, secret?: string): HelloFrame {
  return { type: 'hello', name, identityKey: KEY, ...(secret === undefined ? {} : { secret }) }
}

describe('createAdmission', () => {
  test('challenges a valid hello with 32 random bytes as the nonce, for that name and key', () => {
    expect(admission().hello(hello('alice'))).toEqual({
      kind: 'challenge',
      challenge: {
        member: { name: 'alice', identityKey: KEY },
        nonce: encodeBase64url(new Uint8Array(32).fill(7)),
      },
    })
  })

  test('rejects an invalid or reserved name with its code, and lets the hello be sent again', () => {
    expect(admission().hello(hello('1x'))).toMatchObject({ kind: 'reject', code: 'name_invalid' })
    expect(admission().hello(hello('System'))).toMatchObject({
      kind: 'reject',
      code: 'name_reserved',
    })
  })

  test('asks for the room secret when hello has none, and fails a wrong one', () => {
    const guarded = admission({ secret: 's3cret' })
    expect(guarded.hello(hello('alice'))).toEqual({
      kind: 'tell',
      frame: { type: 'error', code: 'bad_secret', message: expect.any(String), fatal: false },
    })
    expect(guarded.hello(hello('alice', 's3cre'))).toMatchObject({
      kind: 'fail',
      code: 'bad_secret',
    })
    expect(guarded.hello(hello('alice', 's3cret'))).toMatchObject({ kind: 'challenge' })
  })

  test('checks the name only once the secret is right', () => {
    const guarded = admission({ secret: 's3cret' })
    expect(guarded.hello(hello('1x', 'wrong'))).toMatchObject({ kind: 'fail', code: 'bad_secret' })
    expect(guarded.hello(hello('1x', 's3cret'))).toMatchObject({ kind: 'reject' })
  })

  test('accepts only a signature by the claimed key over this nonce and this name', async () => {
    const keys = await createIdentityKeyPair()
    const challenge: Challenge = {
      member: { name: 'alice', identityKey: keys.publicKeyText },
      nonce: 'N'.repeat(43),
    }
    const room = admission()
    const signed = await signWithIdentity(keys, authMessage(challenge.nonce, 'alice'))
    expect(await room.verify(challenge, signed)).toBe(true)
    const otherName = await signWithIdentity(keys, authMessage(challenge.nonce, 'bob'))
    expect(await room.verify(challenge, otherName)).toBe(false)
    const otherNonce = await signWithIdentity(keys, authMessage('M'.repeat(43), 'alice'))
    expect(await room.verify(challenge, otherNonce)).toBe(false)
  })

  test('claims the name for the key, and reports another key’s claim as a conflict', async () => {
    const room = admission()
    expect(await room.claim({ name: 'alice', identityKey: KEY })).toBe('new')
    expect(await room.claim({ name: 'ALICE', identityKey: KEY })).toBe('known')
    expect(await room.claim({ name: 'Alice', identityKey: 'B'.repeat(43) })).toBe('conflict')
  })
})
