import { describe, expect, test } from 'bun:test'
import type { Member } from '../../../shared/protocol/frames.ts'
import { deviceFrame } from './device-frames.ts'
import { createMemoryLinkBoard } from './link-board.ts'
import { createLinkDesk } from './link-desk.ts'
import { createMemoryIdentities } from './memory-identities.ts'

const key = (letter: string) => letter.repeat(43)
const SIGNATURE = 's'.repeat(86)
const laptop: Member = { name: 'alice', identityKey: key('L') }
const phone: Member = { name: 'alice', identityKey: key('P') }
const tablet: Member = { name: 'alice', identityKey: key('T') }

/** alice's laptop (her first key), a phone it approved, a tablet the phone approved. */
function aliceWithThreeDevices() {
  const identities = createMemoryIdentities()
  identities.claim('alice', laptop.identityKey, 1)
  identities.linkDevice(
    'alice',
    phone.identityKey,
    { by: laptop.identityKey, signature: SIGNATURE },
    2,
  )
  identities.linkDevice(
    'alice',
    tablet.identityKey,
    { by: phone.identityKey, signature: SIGNATURE },
    3,
  )
  const unlinked: string[] = []
  const delivery = {
    unlinkDevice(member: Member) {
      unlinked.push(member.identityKey)
    },
  }
  const links = createLinkDesk({ identities, board: createMemoryLinkBoard(), now: () => 4 })
  return { host: { identities, delivery, links }, identities, unlinked }
}

describe('unlinking a device', () => {
  test('unlinks what it approved with it, and has each leaf removed', async () => {
    const { host, identities, unlinked } = aliceWithThreeDevices()
    const answer = await deviceFrame(host, laptop, {
      type: 'unlink',
      identityKey: phone.identityKey,
    })
    expect(answer).toMatchObject({
      type: 'devices',
      devices: [{ identityKey: laptop.identityKey }],
    })
    expect(unlinked).toEqual([phone.identityKey, tablet.identityKey])
    expect(identities.claim('alice', tablet.identityKey, 5)).toBe('conflict')
  })

  test('is refused from a device the unlinked one approved, and for the first device', async () => {
    const { host, unlinked } = aliceWithThreeDevices()
    expect(
      await deviceFrame(host, tablet, { type: 'unlink', identityKey: phone.identityKey }),
    ).toMatchObject({ type: 'error', code: 'device_refused' })
    expect(
      await deviceFrame(host, phone, { type: 'unlink', identityKey: laptop.identityKey }),
    ).toMatchObject({ type: 'error', code: 'device_refused' })
    expect(unlinked).toEqual([])
  })
})
