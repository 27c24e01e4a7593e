import { describe, expect, test } from 'bun:test'
import {
  createLinkedDevice,
  createMlsMember,
  type MlsMember,
} from '../../tests/support/mls-member.ts'
import { makeCommit } from './committer.ts'
import { EventHub } from './event-hub.ts'
import type { ChatEvent } from './events.ts'
import { createMemoryStores } from './memory-stores.ts'
import { type ClientState, membersOf } from './mls.ts'
import { createTrustBook } from './trust-book.ts'

/**
 * alice's group at epoch 1, holding bob twice: his phone and his laptop, each with its own key,
 * the laptop approved by the phone.
 */
async function aliceWithBobsDevices() {
  const alice = await createMlsMember('alice')
  const phone = await createMlsMember('bob')
  const laptop = await createLinkedDevice(phone)
  await alice.found()
  const added = await alice.commit({ add: [await phone.keyPackage(), await laptop.keyPackage()] })
  added.merge()
  const hub = new EventHub()
  const events: ChatEvent[] = []
  hub.on((event) => events.push(event))
  const own = alice.binding.identityKey
  const context = {
    trust: createTrustBook(createMemoryStores().trust),
    hub,
    self: () => ({ name: 'alice', identityKey: own, personKey: own }),
  }
  return { alice, phone, laptop, group: alice.state as ClientState, context, events }
}

const keyOf = (member: MlsMember) => member.binding.identityKey
const request = (change: { add?: { name: string; keyPackage: string }[]; remove?: string[] }) => ({
  type: 'commit-request' as const,
  epoch: 1,
  add: change.add ?? [],
  remove: change.remove ?? [],
})
const leafKeys = (state: ClientState) => membersOf(state).map((leaf) => leaf.identityKey)

describe('makeCommit', () => {
  test("removes the leaf of the key asked, and leaves bob's other device in place", async () => {
    const { alice, phone, laptop, group, context } = await aliceWithBobsDevices()
    const made = await makeCommit(group, request({ remove: [keyOf(laptop)] }), context)
    expect(made?.frame).toMatchObject({ adds: [], removes: [keyOf(laptop)] })
    expect(leafKeys(made?.state as ClientState)).toEqual([keyOf(alice), keyOf(phone)])
  })

  test("replaces a rejoining device's old leaf, the one with its key, and no other", async () => {
    const { alice, phone, laptop, group, context } = await aliceWithBobsDevices()
    const keyPackage = await laptop.keyPackage()
    const made = await makeCommit(group, request({ add: [{ name: 'bob', keyPackage }] }), context)
    expect(made?.frame).toMatchObject({ adds: [keyOf(laptop)], removes: [keyOf(laptop)] })
    const after = leafKeys(made?.state as ClientState)
    expect(after.sort()).toEqual([keyOf(alice), keyOf(phone), keyOf(laptop)].sort())
  })

  test('never removes its own leaf, and makes no commit when that was all it was asked', async () => {
    const { alice, group, context } = await aliceWithBobsDevices()
    expect(await makeCommit(group, request({ remove: [keyOf(alice)] }), context)).toBeUndefined()
  })

  test('refuses to add a KeyPackage with its own key: its leaf stays, so the key would be twice', async () => {
    const { alice, group, context, events } = await aliceWithBobsDevices()
    const copy = await createMlsMember('alice', alice.identity)
    const keyPackage = await copy.keyPackage()
    const asked = request({ add: [{ name: 'alice', keyPackage }] })
    expect(await makeCommit(group, asked, context)).toBeUndefined()
    expect(events).toEqual([
      {
        type: 'warning',
        code: 'refused_add',
        message: "not adding alice: it carries this client's own key",
      },
    ])
  })
})
