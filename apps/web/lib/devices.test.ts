import { describe, expect, test } from 'bun:test'
import { ChatError } from '../../../shared/client/chat-error.ts'
import type { DeviceSummary } from '../../../shared/client/member-views.ts'
import { LINK_CODE_MS } from '../../../shared/protocol/limits.ts'
import { joinFailureText } from './copy.ts'
import {
  deviceFailureText,
  formatTimeLeft,
  linkTimeLeft,
  orderDevices,
  spellCode,
} from './devices.ts'

const NOW = 1_700_000_000_000

describe('the time a link code has left', () => {
  test('is what the server gave, never less than none nor more than a whole code life', () => {
    expect(linkTimeLeft(NOW + 90_000, NOW)).toBe(90_000)
    expect(linkTimeLeft(NOW - 1, NOW)).toBe(0)
    expect(linkTimeLeft(NOW + LINK_CODE_MS, NOW)).toBe(LINK_CODE_MS)
    // A page clock behind the server's must not promise more than a code ever has.
    expect(linkTimeLeft(NOW + LINK_CODE_MS + 1, NOW)).toBe(LINK_CODE_MS)
  })

  test('reads as minutes and seconds, rounded up, so 0:00 only once it has run out', () => {
    expect(
      [LINK_CODE_MS, 299_001, 61_000, 60_000, 59_999, 1_000, 1, 0, -5].map(formatTimeLeft),
    ).toEqual(['5:00', '5:00', '1:01', '1:00', '1:00', '0:01', '0:01', '0:00', '0:00'])
  })
})

describe('spellCode', () => {
  test('spells each group a character at a time, the groups apart', () => {
    expect(spellCode('7KQ2-M9XD-4HRT')).toBe('7 K Q 2, M 9 X D, 4 H R T')
  })
})

describe('orderDevices', () => {
  const device = (identityKey: string, online: boolean, fingerprint = identityKey) =>
    ({ identityKey, fingerprint, online, inGroup: true }) satisfies DeviceSummary

  test('lists this device first, then those online, then the rest, steadily', () => {
    const listed = orderDevices(
      [
        device('d', false),
        device('c', true),
        device('b', false),
        device('a', true),
        device('e', true),
      ],
      'e',
    )
    expect(listed.map((each) => each.identityKey)).toEqual(['e', 'a', 'c', 'b', 'd'])
  })
})

describe('deviceFailureText', () => {
  test('says each way approving or unlinking fails in words', () => {
    const cases: [unknown, string][] = [
      [
        new ChatError('link_code', 'a link code is three groups'),
        'That is not a link code: it is three groups of four letters and digits.',
      ],
      [
        new ChatError('link_mismatch', 'nothing was approved'),
        'Not approved: the server offered a device that does not show this code. Check the code on the new device.',
      ],
      [
        new ChatError('refused', 'no new device of yours shows that code', 'link_invalid'),
        'No new device of yours shows that code: check it for typos. A code works once, for 5 minutes.',
      ],
      [
        new ChatError('refused', 'a person may link 8 devices', 'device_refused'),
        'The server refused: a person may link 8 devices.',
      ],
      [
        new ChatError('not_connected', 'not connected to the room; try again once connected'),
        'Not connected to the room; try again once connected.',
      ],
      [new Error('boom'), 'Boom'],
    ]
    expect(cases.map(([error]) => deviceFailureText(error))).toEqual(cases.map(([, text]) => text))
  })
})

describe('joining as a device', () => {
  test('explains a code that ran out, a name nobody holds, and an unlinked browser', () => {
    const refused = (code: 'link_expired' | 'link_invalid' | 'unlinked') =>
      joinFailureText('alice', { kind: 'refused', code, message: 'as the server put it' })
    expect(refused('link_expired')).toBe(
      'No device approved this browser before its code ran out. Get a new code to try again.',
    )
    expect(refused('link_invalid')).toBe(
      'Nobody is "alice" here yet, so there is nothing to link to. Join without linking to take the name.',
    )
    expect(refused('unlinked')).toBe(
      'Another of your devices unlinked this browser, so it cannot join as "alice" any more.',
    )
  })
})
