import { describe, expect, test } from 'bun:test'
import { createIdentityKeyPair, signWithIdentity } from '../../../shared/crypto/identity-key.ts'
import { encodeBase64url } from '../../../shared/protocol/base64url.ts'
import { authMessage, type HelloFrame } from '../../../shared/protocol/frames.ts'
import { inviteDigest } from '../../../shared/protocol/invites.ts'
import { NAME_RATE_PER_ADDRESS, NAME_RATE_PER_KEY } from '../../../shared/protocol/limits.ts'
import { keepEntries } from '../../../tests/support/retention.ts'
import type { ServerEvent } from '../observe/events.ts'
import {
  type AdmissionOptions,
  type Challenge,
  createAdmission,
  type HelloVerdict,
} from './admission.ts'
import { createMemoryStores } from './memory-stores.ts'

const KEY = 'A'.repeat(43)

function admission(options: Partial<AdmissionOptions> = {}) {
  return createAdmission({
    identities: createMemoryStores(keepEntries(10)).identities,
    secret: undefined,
    now: () => 1,
    randomBytes: (length) => new Uint8Array(length).fill(7),
    nameRates: { perKey: NAME_RATE_PER_KEY, perAddress: NAME_RATE_PER_ADDRESS },
    unusedNameMs: 30 * DAY,
    ...options,
  })
}

const DAY = 86_400_000
const HOME = '192.0.2.7'

function hello(name: string, secret?: string): HelloFrame {
  return { type: 'hello', name, identityKey: KEY, ...(secret === undefined ? {} : { secret }) }
}

describe('createAdmission', () => {
  test('challenges a valid hello with 32 random bytes as the nonce, for that name and key', () => {
    expect(admission().hello(hello('alice'), HOME)).toEqual({
      kind: 'challenge',
      challenge: {
        member: { name: 'alice', identityKey: KEY },
        nonce: encodeBase64url(new Uint8Array(32).fill(7)),
      },
    })
  })

  test('rejects an invalid or reserved name with its code, and lets the hello be sent again', () => {
    expect(admission().hello(hello('1x'), HOME)).toMatchObject({
      kind: 'reject',
      code: 'name_invalid',
    })
    expect(admission().hello(hello('System'), HOME)).toMatchObject({
      kind: 'reject',
      code: 'name_reserved',
    })
  })

  test('asks for the room secret when hello has none, and fails a wrong one', () => {
    const guarded = admission({ secret: 's3cret' })
    expect(guarded.hello(hello('alice'), HOME)).toEqual({
      kind: 'tell',
      frame: { type: 'error', code: 'bad_secret', message: expect.any(String), fatal: false },
    })
    expect(guarded.hello(hello('alice', 's3cre'), HOME)).toMatchObject({
      kind: 'fail',
      code: 'bad_secret',
    })
    expect(guarded.hello(hello('alice', 's3cret'), HOME)).toMatchObject({ kind: 'challenge' })
  })

  test('checks the name only once the secret is right', () => {
    const guarded = admission({ secret: 's3cret' })
    expect(guarded.hello(hello('1x', 'wrong'), HOME)).toMatchObject({
      kind: 'fail',
      code: 'bad_secret',
    })
    expect(guarded.hello(hello('1x', 's3cret'), HOME)).toMatchObject({ kind: 'reject' })
  })

  test('after 5 wrong secrets refuses any hello from that address without checking it, and says when to try again', () => {
    const clock = { at: 0 }
    const logged: ServerEvent[] = []
    const guarded = admission({
      secret: 's3cret',
      now: () => clock.at,
      events: (event) => logged.push(event),
    })
    const verdicts = ['w1', 'w2', 'w3', 'w4', 'w5'].map((guess) =>
      guarded.hello(hello('alice', guess), HOME),
    )
    expect(verdicts.map((verdict) => verdict.kind === 'fail' && verdict.code)).toEqual(
      Array(5).fill('bad_secret'),
    )
    expect(verdicts.at(-1)).toMatchObject({ message: expect.stringContaining('try again in 1 s') })
    const locked: HelloVerdict = {
      kind: 'fail',
      code: 'rate_limited',
      message: 'too many wrong room secrets from your address; try again in 1 s',
    }
    expect(guarded.hello(hello('alice', 's3cret'), HOME)).toEqual(locked)
    expect(guarded.hello(hello('alice'), HOME)).toEqual(locked)
    expect(guarded.hello(hello('alice', 's3cret'), '198.51.100.1')).toMatchObject({
      kind: 'challenge',
    })
    expect(logged).toEqual([
      {
        event: 'secret_lockout',
        address: HOME,
        misses: 5,
        lockoutSeconds: 1,
        refusedMeanwhile: 0,
        unlogged: 0,
      },
    ])
    clock.at = 1000
    expect(guarded.hello(hello('alice', 's3cret'), HOME)).toMatchObject({ kind: 'challenge' })
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

  test('claims the name for the key, and refuses another key’s claim as name_taken', async () => {
    const room = admission()
    expect(await room.claim({ name: 'alice', identityKey: KEY }, HOME)).toEqual({ kind: 'admit' })
    expect(await room.claim({ name: 'ALICE', identityKey: KEY }, HOME)).toEqual({ kind: 'admit' })
    expect(await room.claim({ name: 'Alice', identityKey: 'B'.repeat(43) }, HOME)).toEqual({
      kind: 'refuse',
      code: 'name_taken',
      message: '"Alice" belongs to another identity key; choose another name',
    })
  })

  test('refuses a look-alike of a bound name as name_confusable, saying what counts as alike', async () => {
    const room = admission()
    await room.claim({ name: 'alice', identityKey: KEY }, HOME)
    expect(await room.claim({ name: 'aIice', identityKey: 'B'.repeat(43) }, HOME)).toEqual({
      kind: 'refuse',
      code: 'name_confusable',
      message:
        '"aIice" looks like a name already taken (case, _ and -, I l 1 i, O 0, rn m, vv w and ' +
        'cl d count as one); choose another name',
    })
  })
})

describe('new names a key and an address may bind', () => {
  function clocked() {
    const clock = { at: 0 }
    return { clock, room: admission({ now: () => clock.at }) }
  }
  const bind = (room: ReturnType<typeof admission>, name: string, key = KEY, from = HOME) =>
    room.claim({ name, identityKey: key }, from)

  test('lets a key bind 3 names, then one an hour, and says when to try again', async () => {
    const { clock, room } = clocked()
    for (const name of ['one', 'two', 'three'])
      expect(await bind(room, name)).toEqual({ kind: 'admit' })
    expect(await bind(room, 'four')).toEqual({
      kind: 'refuse',
      code: 'name_limited',
      message:
        'this identity key has bound its share of new names for now; try again in 60 min, or ' +
        'join under a name it holds',
    })
    clock.at = 3_600_000 - 1000
    expect(await bind(room, 'four')).toMatchObject({ message: expect.stringContaining('in 1 s,') })
    clock.at = 3_600_000
    expect(await bind(room, 'four')).toEqual({ kind: 'admit' })
    expect(await bind(room, 'five')).toMatchObject({ code: 'name_limited' })
  })

  test('charges nothing for a name the key holds, nor for a refused one', async () => {
    const { room } = clocked()
    await bind(room, 'alice')
    for (let again = 0; again < 10; again += 1)
      expect(await bind(room, 'Alice')).toEqual({ kind: 'admit' })
    await bind(room, 'bob', 'B'.repeat(43))
    for (let again = 0; again < 10; again += 1) {
      expect(await bind(room, 'b0b')).toMatchObject({ code: 'name_confusable' })
    }
    expect(await bind(room, 'carol')).toEqual({ kind: 'admit' })
    expect(await bind(room, 'dave')).toEqual({ kind: 'admit' })
    expect(await bind(room, 'erin')).toMatchObject({ code: 'name_limited' })
    // While limited, the key still gets in under every name it holds.
    for (const name of ['alice', 'carol', 'dave'])
      expect(await bind(room, name)).toEqual({ kind: 'admit' })
  })

  test('lets one address bind 20 names whatever the keys, then one a minute', async () => {
    const { clock, room } = clocked()
    const key = (index: number) => String.fromCharCode(65 + (index % 26)).repeat(42) + (index % 10)
    for (let index = 0; index < 20; index += 1) {
      expect(await bind(room, `person${index}`, key(index))).toEqual({ kind: 'admit' })
    }
    expect(await bind(room, 'person20', key(20))).toEqual({
      kind: 'refuse',
      code: 'name_limited',
      message:
        'this address has bound its share of new names for now; try again in 1 min, or join ' +
        'under a name it holds',
    })
    expect(await bind(room, 'person20', key(20), '198.51.100.1')).toEqual({ kind: 'admit' })
    clock.at = 60_000
    expect(await bind(room, 'person21', key(21))).toEqual({ kind: 'admit' })
  })

  test('charges every address of one IPv6 /64 to one quota', async () => {
    const { room } = clocked()
    for (let index = 0; index < 20; index += 1) {
      const from = `2001:db8:0:7::${(index + 1).toString(16)}`
      expect(await bind(room, `person${index}`, `${'K'.repeat(40)}${index + 100}`, from)).toEqual({
        kind: 'admit',
      })
    }
    const next = { name: 'person20', identityKey: `${'K'.repeat(40)}999` }
    expect(await room.claim(next, '2001:db8:0:7:ffff::1')).toMatchObject({ code: 'name_limited' })
    expect(await room.claim(next, '2001:db8:0:8::1')).toEqual({ kind: 'admit' })
  })

  test('lets no more than the burst through when claims arrive at once', async () => {
    const { room } = clocked()
    const names = Array.from({ length: 12 }, (_, index) => `rush${index}`)
    const verdicts = await Promise.all(names.map((name) => bind(room, name)))
    expect(verdicts.filter((verdict) => verdict.kind === 'admit')).toHaveLength(3)
  })
})

describe('bindings never used in the group', () => {
  test('lapse after the setting, and the name goes to whoever claims it next', async () => {
    const clock = { at: 0 }
    const identities = createMemoryStores(keepEntries(10)).identities
    const room = admission({ identities, now: () => clock.at, unusedNameMs: 30 * DAY })
    const other = { name: 'alice', identityKey: 'B'.repeat(43) }
    await room.claim({ name: 'alice', identityKey: KEY }, HOME)
    await room.claim({ name: 'bob', identityKey: KEY }, HOME)
    await identities.confirm([{ name: 'bob', identityKey: KEY }], 5)
    clock.at = 30 * DAY
    expect(await room.claim(other, '198.51.100.1')).toMatchObject({ code: 'name_taken' })
    clock.at = 30 * DAY + 1
    expect(await room.claim(other, '198.51.100.1')).toEqual({ kind: 'admit' })
    expect(
      await room.claim({ name: 'b0b', identityKey: 'B'.repeat(43) }, '198.51.100.1'),
    ).toMatchObject({ code: 'name_confusable' })
  })
})

describe('invites', () => {
  const CODE = 'c'.repeat(22)
  const OTHER = 'B'.repeat(43)

  async function invitedRoom(inviteOnly: boolean, expiresAt = DAY) {
    const identities = createMemoryStores(keepEntries(10)).identities
    await identities.addInvite({ codeDigest: inviteDigest(CODE), name: 'Carol', expiresAt })
    const events: ServerEvent[] = []
    const clock = { at: 1 }
    const room = admission({
      identities,
      inviteOnly,
      now: () => clock.at,
      events: (event) => events.push(event),
    })
    return { identities, room, events, clock }
  }

  test('carries the code from hello to the challenge', () => {
    const verdict = admission().hello({ ...hello('carol'), invite: CODE }, HOME)
    expect(verdict).toMatchObject({ kind: 'challenge', challenge: { invite: CODE } })
  })

  test('invite-only: a stranger is refused, an invite binds its name once, a holder comes back', async () => {
    const { room, events } = await invitedRoom(true)
    const carol = { name: 'carol', identityKey: KEY }
    expect(await room.claim(carol, HOME)).toMatchObject({ code: 'invite_required' })
    expect(await room.claim({ name: 'dave', identityKey: KEY }, HOME, CODE)).toMatchObject({
      code: 'invite_invalid',
    })
    expect(await room.claim(carol, HOME, CODE)).toEqual({ kind: 'admit' })
    expect(events).toContainEqual({ event: 'admin', action: 'invite-used', name: 'carol' })
    // Bound now: back without the invite, or with the spent one; nobody else gets it.
    expect(await room.claim(carol, HOME)).toEqual({ kind: 'admit' })
    expect(await room.claim(carol, HOME, CODE)).toEqual({ kind: 'admit' })
    const stranger = { name: 'carol', identityKey: OTHER }
    expect(await room.claim(stranger, HOME, CODE)).toMatchObject({ code: 'name_taken' })
  })

  test('an invite whose claim fails is kept; an expired one binds nothing', async () => {
    const { identities, room, clock } = await invitedRoom(true)
    await identities.claim('caro1', OTHER, 0)
    // A look-alike holds the name: the invite cannot bind it, and stays for when it is free.
    expect(await room.claim({ name: 'carol', identityKey: KEY }, HOME, CODE)).toMatchObject({
      code: 'name_confusable',
    })
    await identities.release('caro1')
    clock.at = DAY
    expect(await room.claim({ name: 'carol', identityKey: KEY }, HOME, CODE)).toMatchObject({
      code: 'invite_invalid',
    })
  })

  test('in an open room an invite binds past the name quotas', async () => {
    const { room } = await invitedRoom(false)
    for (const name of ['dave', 'erin', 'frank']) {
      expect(await room.claim({ name, identityKey: KEY }, HOME)).toEqual({ kind: 'admit' })
    }
    expect(await room.claim({ name: 'grace', identityKey: KEY }, HOME)).toMatchObject({
      code: 'name_limited',
    })
    expect(await room.claim({ name: 'carol', identityKey: KEY }, HOME, CODE)).toEqual({
      kind: 'admit',
    })
  })
})
