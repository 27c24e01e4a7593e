import { describe, expect, test } from 'bun:test'
import { decodeClientFrame, decodeServerFrame, encodeFrame } from './codec.ts'
import type { ClientFrame, ServerFrame } from './frames.ts'

const KEY = 'A'.repeat(43)
/** Identity keys of two more leaves: claims and rosters name leaves by key, not by name. */
const BOB_KEY = 'B'.repeat(43)
const CAROL_KEY = 'C'.repeat(43)
const SIGNATURE = 'B'.repeat(86)

describe('decodeClientFrame', () => {
  const valid: Array<[string, ClientFrame]> = [
    ['a hello', { type: 'hello', name: 'alice', identityKey: KEY }],
    [
      'a hello with a secret',
      { type: 'hello', name: 'alice', identityKey: KEY, secret: 'open sesame' },
    ],
    ['an auth', { type: 'auth', signature: SIGNATURE }],
    ['a resume from the start', { type: 'resume', afterSeq: 0 }],
    ['an app message', { type: 'app', ciphertext: 'AQID-w' }],
    ['a key package', { type: 'key-package', keyPackage: 'AQID' }],
    // 4,096 bytes, the most a KeyPackage may be, is 5,462 base64url characters.
    ['a key package of the largest size', { type: 'key-package', keyPackage: 'A'.repeat(5462) }],
    ['a commit', { type: 'commit', epoch: 3, commit: 'AQID', adds: [], removes: [CAROL_KEY] }],
    [
      'a commit with a welcome',
      {
        type: 'commit',
        epoch: 3,
        commit: 'AQID',
        welcome: 'BAUG',
        adds: [BOB_KEY],
        removes: [],
      },
    ],
    ['a group founding', { type: 'group-founded', groupInfo: 'AAECAw' }],
    ['a refused commit', { type: 'commit-refused', seq: 4, reason: 'invalid' }],
    ['a leave', { type: 'leave' }],
    ['a ping', { type: 'ping' }],
    ['a ping with a nonce', { type: 'ping', nonce: 42 }],
  ]

  for (const [what, frame] of valid) {
    test(`decodes ${what} frame`, () => {
      expect(decodeClientFrame(JSON.stringify(frame))).toEqual({ ok: true, frame })
    })
  }

  test('answers broken JSON with bad_json', () => {
    expect(decodeClientFrame('{"type":"ping"')).toEqual({
      ok: false,
      code: 'bad_json',
      message: 'the frame is not valid JSON',
    })
  })

  const invalid: Array<[string, unknown, string]> = [
    ['an unknown type', { type: 'shout', text: 'hi' }, 'type'],
    ['a missing type', { name: 'alice' }, 'type'],
    ['a sequence number given as a string', { type: 'resume', afterSeq: '3' }, 'afterSeq'],
    ['a negative sequence number', { type: 'resume', afterSeq: -1 }, 'afterSeq'],
    ['a fractional epoch', { type: 'commit', epoch: 1.5, commit: 'AA' }, 'epoch'],
    ['ciphertext that is not base64url', { type: 'app', ciphertext: 'a+b/' }, 'ciphertext'],
    ['padded base64', { type: 'app', ciphertext: 'AA==' }, 'ciphertext'],
    [
      'an identity key one character short',
      { type: 'hello', name: 'alice', identityKey: KEY.slice(1) },
      'identityKey',
    ],
    [
      'an identity key one character long',
      { type: 'hello', name: 'alice', identityKey: `${KEY}A` },
      'identityKey',
    ],
    ['a signature of the wrong length', { type: 'auth', signature: 'B'.repeat(85) }, 'signature'],
    [
      'a KeyPackage over the size limit',
      { type: 'key-package', keyPackage: 'A'.repeat(5463) },
      'keyPackage',
    ],
    [
      'a refusal for no reason given',
      { type: 'commit-refused', seq: 4, reason: 'bored' },
      'reason',
    ],
    [
      'a commit adding a number',
      { type: 'commit', epoch: 1, commit: 'AA', adds: [5], removes: [] },
      'adds.0',
    ],
    [
      'a commit removing a name rather than a key',
      { type: 'commit', epoch: 1, commit: 'AA', adds: [], removes: ['carol'] },
      'removes.0',
    ],
    [
      'a commit adding a key one character short',
      { type: 'commit', epoch: 1, commit: 'AA', adds: [BOB_KEY.slice(1)], removes: [] },
      'adds.0',
    ],
    ['a ping nonce that is text', { type: 'ping', nonce: 'x' }, 'nonce'],
  ]

  for (const [what, json, path] of invalid) {
    test(`refuses ${what} with bad_frame naming ${path}`, () => {
      const decoded = decodeClientFrame(JSON.stringify(json))
      expect(decoded).toEqual({ ok: false, code: 'bad_frame', message: expect.any(String) })
      if (decoded.ok) return
      expect(decoded.message).toStartWith(`the frame does not match the protocol at ${path}: `)
    })
  }

  test('refuses JSON that is not an object with bad_frame', () => {
    for (const text of ['null', '42', '"hello"', '[]']) {
      expect(decodeClientFrame(text)).toMatchObject({ ok: false, code: 'bad_frame' })
    }
  })

  test('strips what a client claims the server stamps on an app frame', () => {
    const text = JSON.stringify({
      type: 'app',
      ciphertext: 'AQID',
      from: 'mallory',
      seq: 99,
      at: 0,
    })
    const decoded = decodeClientFrame(text)
    expect(decoded).toEqual({ ok: true, frame: { type: 'app', ciphertext: 'AQID' } })
    if (decoded.ok) expect(Object.keys(decoded.frame)).toEqual(['type', 'ciphertext'])
  })
})

describe('decodeServerFrame', () => {
  const frames: ServerFrame[] = [
    { type: 'challenge', nonce: 'AQID' },
    {
      type: 'ready',
      name: 'alice',
      head: 0,
      members: [{ name: 'alice', identityKey: KEY }],
      online: 1,
      next: null,
      group: null,
      limits: {
        maxFileBytes: 1_048_576,
        rate: { perSecond: 20, burst: 60 },
        bytes: { perSecond: 262_144, burst: 2_900_000 },
      },
    },
    {
      type: 'ready',
      name: 'alice',
      head: 9,
      members: [{ name: 'alice', identityKey: KEY }],
      online: 1,
      next: null,
      group: { groupId: 'AAAAAAAAAAAAAAAAAAAAAA', epoch: 4, roster: [KEY, BOB_KEY] },
      limits: {
        maxFileBytes: 4096,
        rate: { perSecond: 0.5, burst: 1 },
        bytes: { perSecond: 1, burst: 1 },
      },
    },
    { type: 'presence', event: 'join', name: 'bob', identityKey: KEY, at: 1_700_000_000_000 },
    {
      type: 'presence',
      event: 'leave',
      name: 'bob',
      identityKey: KEY,
      at: 1_700_000_000_000,
      reason: 'disconnect',
    },
    { type: 'app', seq: 1, from: 'alice', at: 5, ciphertext: 'AQID' },
    {
      type: 'commit',
      seq: 2,
      from: 'alice',
      at: 5,
      epoch: 1,
      commit: 'AQID',
      adds: [{ name: 'bob', identityKey: BOB_KEY }],
      removes: [CAROL_KEY],
    },
    // Logged before one name could have several devices, it names the leaf it removed.
    {
      type: 'commit',
      seq: 3,
      from: 'alice',
      at: 6,
      epoch: 2,
      commit: 'AQID',
      adds: [],
      removes: ['carol'],
    },
    { type: 'found-request' },
    {
      type: 'commit-request',
      epoch: 1,
      add: [{ name: 'bob', keyPackage: 'AQID' }],
      remove: [CAROL_KEY],
    },
    {
      type: 'welcome',
      from: 'alice',
      seq: 2,
      welcome: 'AQID',
      roster: [{ name: 'alice', identityKey: KEY }],
      epochDigest: 'D'.repeat(43),
    },
    { type: 'resumed', head: 3 },
    { type: 'pong' },
    { type: 'pong', nonce: 7 },
    { type: 'error', code: 'name_taken', message: 'taken', fatal: false },
  ]

  for (const frame of frames) {
    const label = frame.type === 'presence' ? `presence ${frame.event}` : frame.type
    test(`round-trips a ${label} frame through encodeFrame`, () => {
      expect(decodeServerFrame(encodeFrame(frame))).toEqual({ ok: true, frame })
    })
  }

  test('refuses a leave presence without a reason', () => {
    const text = JSON.stringify({
      type: 'presence',
      event: 'leave',
      name: 'bob',
      identityKey: KEY,
      at: 1,
    })
    expect(decodeServerFrame(text)).toMatchObject({ ok: false, code: 'bad_frame' })
  })

  test('refuses a commit-request or a roster that names a leaf rather than giving its key', () => {
    const refusedAt = (path: string) =>
      ({
        ok: false,
        code: 'bad_frame',
        message: expect.stringContaining(` at ${path}: `),
      }) as const
    const request = { type: 'commit-request', epoch: 1, add: [], remove: ['carol'] }
    expect(decodeServerFrame(JSON.stringify(request))).toEqual(refusedAt('remove.0'))
    const group = { groupId: 'AAAAAAAAAAAAAAAAAAAAAA', epoch: 4, roster: ['alice'] }
    const ready = {
      type: 'ready',
      name: 'alice',
      head: 0,
      members: [],
      online: 1,
      next: null,
      group,
      limits: {
        maxFileBytes: 4096,
        rate: { perSecond: 1, burst: 1 },
        bytes: { perSecond: 1, burst: 1 },
      },
    }
    expect(decodeServerFrame(JSON.stringify(ready))).toEqual(refusedAt('group.roster.0'))
    const keyed = { ...ready, group: { ...group, roster: [KEY] } }
    expect(decodeServerFrame(JSON.stringify(keyed))).toMatchObject({ ok: true })
  })

  test('refuses an error code outside the picklist', () => {
    const text = JSON.stringify({ type: 'error', code: 'oops', message: '', fatal: true })
    expect(decodeServerFrame(text)).toMatchObject({ ok: false, code: 'bad_frame' })
  })
})
