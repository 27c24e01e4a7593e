import { describe, expect, spyOn, test } from 'bun:test'
import {
  approvalMessage,
  credentialIdentity,
  type DeviceLink,
  linkCode,
  normalizeLinkCode,
  personKeyOf,
  readCredentialIdentity,
} from './device-links.ts'
import { createIdentityKeyPair, signWithIdentity } from './identity-key.ts'

const laptop = await createIdentityKeyPair()
const phone = await createIdentityKeyPair()
const tablet = await createIdentityKeyPair()
const stranger = await createIdentityKeyPair()

async function approve(by: typeof laptop, name: string, deviceKey: string): Promise<DeviceLink> {
  return {
    by: by.publicKeyText,
    signature: await signWithIdentity(by, approvalMessage(name, deviceKey)),
  }
}

describe('device approvals', () => {
  test("lead from a linked device to the person's first key, through a device it approved", async () => {
    const phoneLink = await approve(laptop, 'alice', phone.publicKeyText)
    const tabletLink = await approve(phone, 'alice', tablet.publicKeyText)
    expect(await personKeyOf('alice', laptop.publicKeyText, [])).toBe(laptop.publicKeyText)
    expect(await personKeyOf('alice', phone.publicKeyText, [phoneLink])).toBe(laptop.publicKeyText)
    expect(await personKeyOf('Alice', tablet.publicKeyText, [tabletLink, phoneLink])).toBe(
      laptop.publicKeyText,
    )
  })

  test('are refused for another device, another name, a forged signer or a loop', async () => {
    const phoneLink = await approve(laptop, 'alice', phone.publicKeyText)
    expect(await personKeyOf('alice', tablet.publicKeyText, [phoneLink])).toBeUndefined()
    expect(await personKeyOf('bob', phone.publicKeyText, [phoneLink])).toBeUndefined()
    const forged = { ...phoneLink, by: stranger.publicKeyText }
    expect(await personKeyOf('alice', phone.publicKeyText, [forged])).toBeUndefined()
    const back = await approve(phone, 'alice', laptop.publicKeyText)
    expect(await personKeyOf('alice', phone.publicKeyText, [phoneLink, back])).toBeUndefined()
  })

  test('verified once, an approval vouches for nothing it did not sign', async () => {
    const phoneLink = await approve(laptop, 'alice', phone.publicKeyText)
    expect(await personKeyOf('alice', phone.publicKeyText, [phoneLink])).toBe(laptop.publicKeyText)
    const last = phoneLink.signature.at(-2) === 'A' ? 'B' : 'A'
    const tampered = {
      ...phoneLink,
      signature: `${phoneLink.signature.slice(0, -2)}${last}${phoneLink.signature.at(-1)}`,
    }
    expect(await personKeyOf('alice', phone.publicKeyText, [tampered])).toBeUndefined()
    expect(await personKeyOf('alice', tablet.publicKeyText, [phoneLink])).toBeUndefined()
    expect(await personKeyOf('ALICE', phone.publicKeyText, [phoneLink])).toBe(laptop.publicKeyText)
  })

  test('verified once, an approval is not checked again', async () => {
    const tabletLink = await approve(laptop, 'carol', tablet.publicKeyText)
    const verify = spyOn(crypto.subtle, 'verify')
    try {
      expect(await personKeyOf('carol', tablet.publicKeyText, [tabletLink])).toBe(
        laptop.publicKeyText,
      )
      expect(verify).toHaveBeenCalledTimes(1)
      expect(await personKeyOf('Carol', tablet.publicKeyText, [tabletLink])).toBe(
        laptop.publicKeyText,
      )
      expect(verify).toHaveBeenCalledTimes(1)
    } finally {
      verify.mockRestore()
    }
  })
})

describe('the credential identity', () => {
  test('is the bare name for a first device, as before devices', () => {
    const identity = credentialIdentity('alice', [])
    expect(new TextDecoder().decode(identity)).toBe('alice')
    expect(readCredentialIdentity(identity)?.links).toEqual([])
  })

  test("carries a linked device's approvals after the name", async () => {
    const links = [await approve(laptop, 'alice', phone.publicKeyText)]
    const read = readCredentialIdentity(credentialIdentity('alice', links))
    expect(new TextDecoder().decode(read?.nameBytes)).toBe('alice')
    expect(read?.links).toEqual(links)
  })

  test('with approvals cut short is not read', async () => {
    const identity = credentialIdentity('alice', [await approve(laptop, 'alice', 'x')])
    expect(readCredentialIdentity(identity.subarray(0, identity.length - 1))).toBeUndefined()
    expect(readCredentialIdentity(identity.subarray(0, 6))).toBeUndefined()
  })
})

describe('link codes', () => {
  test('are three groups of four unambiguous characters, fixed by name, key and nonce', () => {
    const code = linkCode('alice', phone.publicKeyText, 'nonce-1')
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/)
    expect(linkCode('ALICE', phone.publicKeyText, 'nonce-1')).toBe(code)
    expect(linkCode('alice', tablet.publicKeyText, 'nonce-1')).not.toBe(code)
    expect(linkCode('alice', phone.publicKeyText, 'nonce-2')).not.toBe(code)
  })

  test('are read back as typed: any case, spaces, and O for 0 or I and L for 1', () => {
    expect(normalizeLinkCode('ab0c 1d2e-f3g4')).toBe('AB0C-1D2E-F3G4')
    expect(normalizeLinkCode('abOc-ild2-ef3g')).toBe('AB0C-11D2-EF3G')
    expect(normalizeLinkCode('ABCD-EFGH')).toBeUndefined()
    expect(normalizeLinkCode('ABCD-EFGH-UUUU')).toBeUndefined()
  })
})
