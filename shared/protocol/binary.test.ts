import { describe, expect, test } from 'bun:test'
import { encodeBase64url } from './base64url.ts'
import { isBinaryBody } from './binary.ts'
import { decodeClientFrame, decodeServerFrame, encodeFrame } from './codec.ts'
import type { ClientFrame } from './frames.ts'
import { LENGTH_PREFIX_BYTES } from './framing.ts'

/** Identity keys of two leaves: claims name leaves by key, not by name. */
const BOB_KEY = 'B'.repeat(43)
const CAROL_KEY = 'C'.repeat(43)

/** The bytes of a 64-byte text's MLS PrivateMessage, as bench/rig.ts measures it. */
const CIPHERTEXT_BYTES = 334
const bytes = (length: number) => Uint8Array.from({ length }, (_, index) => (index * 7) & 0xff)
const u32 = (value: number) => [
  value >>> 24,
  (value >>> 16) & 0xff,
  (value >>> 8) & 0xff,
  value & 0xff,
]

/** A sectioned binary frame put together by hand, as a hostile peer could send it. */
function sectioned(tag: number, head: string, sections: Uint8Array[], extra: number[] = []) {
  const headBytes = new TextEncoder().encode(head)
  return Uint8Array.from([
    tag,
    ...u32(headBytes.length),
    ...headBytes,
    sections.length,
    ...sections.flatMap((section) => [...u32(section.length), ...section]),
    ...extra,
  ])
}

describe('binary frames', () => {
  const clientFrames: Array<[string, ClientFrame]> = [
    ['app', { type: 'app', ciphertext: encodeBase64url(bytes(CIPHERTEXT_BYTES)) }],
    ['key-package', { type: 'key-package', keyPackage: encodeBase64url(bytes(300)) }],
    ['group-founded', { type: 'group-founded', groupInfo: encodeBase64url(bytes(500)) }],
    [
      'commit with a Welcome',
      {
        type: 'commit',
        epoch: 3,
        commit: encodeBase64url(bytes(700)),
        welcome: encodeBase64url(bytes(900)),
        adds: [BOB_KEY],
        removes: [CAROL_KEY],
      },
    ],
    [
      'commit without one',
      { type: 'commit', epoch: 3, commit: 'AQID', adds: [], removes: [CAROL_KEY] },
    ],
  ]

  for (const [what, frame] of clientFrames) {
    test(`carry a client's ${what} as bytes, decoded to the same frame`, () => {
      const wire = encodeFrame(frame)
      expect(wire).toBeInstanceOf(Uint8Array)
      expect(isBinaryBody(wire as Uint8Array)).toBe(true)
      expect(decodeClientFrame(wire)).toEqual({ ok: true, frame })
      // The JSON form is still read, and means the same.
      expect(decodeClientFrame(JSON.stringify(frame))).toEqual({ ok: true, frame })
    })
  }

  test('keep control frames JSON', () => {
    expect(encodeFrame({ type: 'ping', nonce: 1 })).toBe('{"type":"ping","nonce":1}')
    expect(encodeFrame({ type: 'resumed', head: 3 })).toBe('{"type":"resumed","head":3}')
  })

  test('deliver a 64-byte text in at most 360 bytes on either port', () => {
    const ciphertext = bytes(CIPHERTEXT_BYTES)
    const wire = encodeFrame({
      type: 'app',
      seq: 10_000,
      from: 'member000',
      at: Date.now(),
      ciphertext: encodeBase64url(ciphertext),
    })
    // Tag, seq (2 bytes of LEB128 for 10,000), time (6), the sender's length and name, then the
    // ciphertext raw.
    expect(wire.length).toBe(1 + 2 + 6 + 1 + 'member000'.length + CIPHERTEXT_BYTES)
    expect((wire as Uint8Array).subarray(wire.length - CIPHERTEXT_BYTES)).toEqual(ciphertext)
    // The raw TLS port adds a 4-byte length; a WebSocket message of this size a 4-byte header.
    expect(wire.length + LENGTH_PREFIX_BYTES).toBeLessThanOrEqual(360)
  })

  test('refuse to encode more sections than their one-byte count holds', () => {
    const add = Array.from({ length: 256 }, (_, index) => ({
      name: `member${index}`,
      keyPackage: 'AQID',
    }))
    expect(() => encodeFrame({ type: 'commit-request', epoch: 1, add, remove: [] })).toThrow(
      'more than 255',
    )
    const fits = encodeFrame({
      type: 'commit-request',
      epoch: 1,
      add: add.slice(0, 255),
      remove: [],
    })
    expect(decodeServerFrame(fits)).toMatchObject({ ok: true })
  })

  test('keep sequence numbers and times past 32 bits', () => {
    for (const seq of [0, 127, 128, 2 ** 32 + 1, 2 ** 48 - 1]) {
      const frame = { type: 'app', seq, from: 'alice', at: 1_900_000_000_000 } as const
      const wire = encodeFrame({ ...frame, ciphertext: 'AQID' })
      expect(decodeServerFrame(wire)).toEqual({ ok: true, frame: { ...frame, ciphertext: 'AQID' } })
    }
  })

  test('give a client no way to claim the sender, sequence or time of its message', () => {
    // A client's app frame is its tag and ciphertext: whatever follows the tag is ciphertext.
    const forged = encodeFrame({ type: 'app', seq: 9, from: 'alice', at: 1, ciphertext: 'AQID' })
    const decoded = decodeClientFrame(forged)
    expect(decoded.ok && decoded.frame).toEqual({
      type: 'app',
      ciphertext: encodeBase64url((forged as Uint8Array).subarray(1)),
    })
  })

  const malformed: Array<[string, Uint8Array<ArrayBuffer>, 'client' | 'server']> = [
    ['an unknown tag', Uint8Array.from([0x1f, 1, 2]), 'client'],
    ['an app frame cut inside its header', Uint8Array.from([0x01, 5, 0, 0, 1]), 'server'],
    [
      'a sequence number that never ends',
      Uint8Array.from([0x01, ...new Array(20).fill(0x80)]),
      'server',
    ],
    [
      'a sender longer than the frame',
      Uint8Array.from([0x01, 5, ...new Array(6).fill(0), 200, 97]),
      'server',
    ],
    [
      'a sender that is not UTF-8',
      Uint8Array.from([0x01, 5, ...new Array(6).fill(0), 2, 0xff, 0xfe, 1]),
      'server',
    ],
    ['a head that is not JSON', sectioned(0x02, '{"', [bytes(4)]), 'client'],
    ['a head that is an array', sectioned(0x02, '[]', [bytes(4)]), 'client'],
    ['a head length past the end', Uint8Array.from([0x02, ...u32(1000), 123, 125]), 'client'],
    [
      'a section running past the end',
      Uint8Array.from([0x02, ...u32(2), 123, 125, 1, ...u32(50), 1, 2, 3]),
      'client',
    ],
    ['bytes after the last section', sectioned(0x02, '{}', [bytes(4)], [9]), 'client'],
    [
      'fewer KeyPackages than adds',
      sectioned(0x06, '{"epoch":1,"add":[{"name":"bob"},{"name":"carol"}],"remove":[]}', [
        bytes(4),
      ]),
      'server',
    ],
    // A byte field comes from a section only: one put in the head is not read.
    [
      'a commit whose bytes hide in its head',
      sectioned(0x04, `{"epoch":1,"commit":"AQID","adds":[],"removes":[]}`, []),
      'client',
    ],
    [
      'a Welcome without its roster',
      sectioned(0x05, `{"from":"alice","seq":2,"epochDigest":"${'D'.repeat(43)}"}`, [bytes(4)]),
      'server',
    ],
  ]

  for (const [what, wire, side] of malformed) {
    test(`refuse ${what} with bad_frame`, () => {
      const decoded = side === 'client' ? decodeClientFrame(wire) : decodeServerFrame(wire)
      expect(decoded).toMatchObject({ ok: false, code: 'bad_frame' })
    })
  }

  test('refuse base64url no bytes could encode, which would change on its way through', () => {
    // 'AB' is one byte with stray bits; five characters are no whole number of bytes.
    for (const ciphertext of ['AB', 'AQIDB', 'AQIDBB']) {
      expect(decodeClientFrame(JSON.stringify({ type: 'app', ciphertext }))).toMatchObject({
        ok: false,
        code: 'bad_frame',
      })
    }
    for (const ciphertext of ['AA', 'AQI', 'AQID', 'AQI_', 'AQIDBA']) {
      expect(decodeClientFrame(JSON.stringify({ type: 'app', ciphertext }))).toMatchObject({
        ok: true,
      })
    }
  })
})
