import { describe, expect, test } from 'bun:test'
import { createLinkedDevice, createMlsMember } from '../../tests/support/mls-member.ts'
import { createMemoryStores } from './memory-stores.ts'
import { observePerson, personProblem } from './person-keys.ts'
import { createTrustBook } from './trust-book.ts'

const alice = await createMlsMember('alice')
const alicePhone = await createLinkedDevice(alice)
const aliceTablet = await createLinkedDevice(alicePhone)
const bob = await createMlsMember('bob')
const bobPhone = await createLinkedDevice(bob)
const mallory = await createMlsMember('bob')

const device = (member: typeof alice) => ({
  name: member.name,
  identityKey: member.binding.identityKey,
  ...(member.keys.links ? { links: member.keys.links } : {}),
})
const aliceSelf = {
  name: 'alice',
  identityKey: alice.binding.identityKey,
  personKey: alice.binding.identityKey,
}

function trustBook() {
  return createTrustBook(createMemoryStores().trust)
}

describe("a device's person", () => {
  test('is trusted without a change when a device of the trusted person approved it', async () => {
    const trust = trustBook()
    expect(await observePerson(trust, aliceSelf, device(bob), true)).toBe('new')
    expect(await observePerson(trust, aliceSelf, device(bobPhone), true)).toBe('known')
    expect(trust.pendingChanges()).toEqual([])
  })

  test('is a key change when the key shows up for the name any other way', async () => {
    const trust = trustBook()
    await observePerson(trust, aliceSelf, device(bob), true)
    expect(await observePerson(trust, aliceSelf, device(mallory), true)).toBe('changed')
    expect(trust.pendingChanges().map((change) => change.name)).toEqual(['bob'])
  })

  test('under our own name must lead to our own person key, through any device of ours', async () => {
    const trust = trustBook()
    expect(await observePerson(trust, aliceSelf, device(aliceTablet), true)).toBe('known')
    const ghost = await createMlsMember('alice')
    const seen = await observePerson(trust, aliceSelf, device(ghost), true)
    expect(seen).toBe('impostor')
    expect(personProblem(seen, device(ghost))).toContain('none of your devices approved')
  })

  test('is forged when its approvals do not verify', async () => {
    const trust = trustBook()
    const forged = { ...device(bobPhone), name: 'carol' }
    const seen = await observePerson(trust, aliceSelf, forged, true)
    expect(seen).toBe('forged')
    expect(await trust.get('carol')).toBeUndefined()
  })
})
