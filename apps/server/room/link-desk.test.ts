import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test'
import { approvalMessage, linkCode } from '../../../shared/crypto/device-links.ts'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../../../shared/crypto/identity-key.ts'
import type { DeviceLink } from '../../../shared/protocol/frames.ts'
import { LINK_CODE_MS, MAX_DEVICES } from '../../../shared/protocol/limits.ts'
import { createMemoryLinkBoard } from './link-board.ts'
import { createLinkDesk, type WaitingDevice } from './link-desk.ts'
import { createMemoryIdentities } from './memory-identities.ts'

const laptop = await createIdentityKeyPair()
const phone = await createIdentityKeyPair()
const NONCE = `${'n'.repeat(21)}A`

function member(name: string, key: IdentityKeyPair) {
  return { name, identityKey: key.publicKeyText }
}

function waitingPhone(name = 'alice') {
  const outcome: { links?: readonly DeviceLink[]; expired: boolean } = { expired: false }
  const device: WaitingDevice = {
    member: member(name, phone),
    nonce: NONCE,
    address: '192.0.2.1',
    approved: (links) => {
      outcome.links = links
    },
    expired: () => {
      outcome.expired = true
    },
  }
  return { device, outcome, code: linkCode(name, phone.publicKeyText, NONCE) }
}

async function setUp() {
  const identities = createMemoryIdentities()
  identities.claim('alice', laptop.publicKeyText, 1)
  identities.claim('bob', (await createIdentityKeyPair()).publicKeyText, 1)
  let clock = 1000
  const desk = createLinkDesk({ identities, board: createMemoryLinkBoard(), now: () => clock })
  return {
    identities,
    desk,
    tick: (ms: number) => {
      clock += ms
      jest.advanceTimersByTime(ms)
    },
  }
}

const approval = (by: IdentityKeyPair, name: string, key: string) =>
  signWithIdentity(by, approvalMessage(name, key))

beforeEach(() => jest.useFakeTimers())
afterEach(() => jest.useRealTimers())

describe('the link desk', () => {
  test('finds a waiting device by its code, typed loosely, for its own name only', async () => {
    const { desk } = await setUp()
    const { device, code } = waitingPhone()
    expect(await desk.wait(device)).toBe(1000 + LINK_CODE_MS)
    expect(await desk.find(member('alice', laptop), code.toLowerCase().replace(/-/g, ' '))).toEqual(
      {
        member: device.member,
        nonce: NONCE,
      },
    )
    expect(await desk.find(member('bob', laptop), code)).toMatchObject({ code: 'link_invalid' })
    expect(await desk.find(member('alice', laptop), 'AAAA-AAAA-AAAA')).toMatchObject({
      code: 'link_invalid',
    })
  })

  test('links the device a device of the name approves, once, with its approval', async () => {
    const { desk, identities } = await setUp()
    const { device, outcome } = waitingPhone()
    await desk.wait(device)
    const signature = await approval(laptop, 'alice', phone.publicKeyText)
    expect(
      await desk.approve(member('alice', laptop), phone.publicKeyText, signature),
    ).toBeUndefined()
    expect(outcome.links).toEqual([{ by: laptop.publicKeyText, signature }])
    expect(identities.claim('alice', phone.publicKeyText, 2)).toBe('known')
    // Single use: the same approval again finds nothing waiting.
    expect(
      await desk.approve(member('alice', laptop), phone.publicKeyText, signature),
    ).toMatchObject({ code: 'link_invalid' })
  })

  test('refuses an approval signed by another key, or from another name', async () => {
    const { desk, identities } = await setUp()
    const { device, outcome } = waitingPhone()
    await desk.wait(device)
    const forged = await approval(phone, 'alice', phone.publicKeyText)
    expect(await desk.approve(member('alice', laptop), phone.publicKeyText, forged)).toMatchObject({
      code: 'bad_signature',
    })
    const fromBob = await approval(laptop, 'bob', phone.publicKeyText)
    expect(await desk.approve(member('bob', laptop), phone.publicKeyText, fromBob)).toMatchObject({
      code: 'link_invalid',
    })
    expect(outcome.links).toBeUndefined()
    expect(identities.claim('alice', phone.publicKeyText, 2)).toBe('conflict')
  })

  test('lets a code run out: the device is told, and the code finds nothing', async () => {
    const { desk, tick } = await setUp()
    const { device, outcome, code } = waitingPhone()
    await desk.wait(device)
    tick(LINK_CODE_MS - 1)
    expect(outcome.expired).toBe(false)
    tick(1)
    expect(outcome.expired).toBe(true)
    expect(await desk.find(member('alice', laptop), code)).toMatchObject({ code: 'link_invalid' })
  })

  test('forgets a device that stopped waiting', async () => {
    const { desk } = await setUp()
    const { device, code } = waitingPhone()
    await desk.wait(device)
    desk.leave(device)
    expect(await desk.find(member('alice', laptop), code)).toMatchObject({ code: 'link_invalid' })
  })

  test('ends the old wait of a key that waits again, and caps the devices one address keeps waiting', async () => {
    const { desk } = await setUp()
    const first = waitingPhone()
    await desk.wait(first.device)
    const again = waitingPhone()
    await desk.wait(again.device)
    expect(first.outcome.expired).toBe(true)
    expect(again.outcome.expired).toBe(false)
    for (let index = 1; index < MAX_DEVICES; index += 1) {
      const key = await createIdentityKeyPair()
      const other = { ...waitingPhone().device, member: member('alice', key) }
      expect(typeof (await desk.wait(other))).toBe('number')
    }
    const key = await createIdentityKeyPair()
    const tooMany = { ...waitingPhone().device, member: member('alice', key) }
    expect(await desk.wait(tooMany)).toMatchObject({ code: 'device_refused' })
    const elsewhere = { ...tooMany, address: '198.51.100.7' }
    expect(typeof (await desk.wait(elsewhere))).toBe('number')
  })
})
