import { describe, expect, test } from 'bun:test'
import {
  createLinkedDevice,
  createMlsMember,
  type MlsMember,
} from '../../tests/support/mls-member.ts'
import type { CommitDeliverFrame } from '../protocol/frames.ts'
import { EventHub } from './event-hub.ts'
import type { ChatEvent } from './events.ts'
import { takeCommit } from './group-intake.ts'
import { createMemoryStores } from './memory-stores.ts'
import type { ClientState } from './mls.ts'
import { createTrustBook } from './trust-book.ts'

/** alice, bob and carol in one group at epoch 2, founded by bob. */
async function threeMembers() {
  const [alice, bob, carol] = (await Promise.all(
    ['alice', 'bob', 'carol'].map((name) => createMlsMember(name)),
  )) as [MlsMember, MlsMember, MlsMember]
  await bob.found()
  const first = await bob.commit({ add: [await alice.keyPackage()] })
  first.merge()
  await alice.join(first.welcome as string)
  const second = await bob.commit({ add: [await carol.keyPackage()] })
  second.merge()
  await carol.join(second.welcome as string)
  await alice.apply(second.commit)
  return { alice, bob, carol }
}

/** What `member` checks a commit with: its trust book (pinning `pinned`'s key), its hub, itself. */
async function pinsOf(member: MlsMember, pinned: MlsMember) {
  const trust = createTrustBook(createMemoryStores().trust)
  await trust.observe(pinned.name, pinned.binding.identityKey)
  const hub = new EventHub()
  const events: ChatEvent[] = []
  hub.on((event) => events.push(event))
  const own = member.binding.identityKey
  const self = () => ({ name: member.name, identityKey: own, personKey: own })
  return { pins: { trust, hub, self }, events, trust }
}

/** bob's commit adding `device`, as the server would log it, with the add it vouched for. */
async function bobAdds(bob: MlsMember, device: MlsMember): Promise<CommitDeliverFrame> {
  const made = await bob.commit({ add: [await device.keyPackage()] })
  return {
    type: 'commit',
    seq: 9,
    from: 'bob',
    at: 1,
    epoch: 2,
    commit: made.commit,
    adds: [device.binding],
    removes: [],
  }
}

const stateOf = (member: MlsMember) => member.state as ClientState

describe('a commit that adds another device of alice', () => {
  test('approved by her first device: she and carol take it, and carol sees no key change', async () => {
    const { alice, bob, carol } = await threeMembers()
    const frame = await bobAdds(bob, await createLinkedDevice(alice))
    const atAlice = await pinsOf(alice, bob)
    expect((await takeCommit(stateOf(alice), frame, atAlice.pins)).ok).toBe(true)
    const atCarol = await pinsOf(carol, alice)
    expect((await takeCommit(stateOf(carol), frame, atCarol.pins)).ok).toBe(true)
    expect(atCarol.events).toEqual([])
    expect(atCarol.trust.pendingChanges()).toEqual([])
  })

  test('that no device of hers approved: alice refuses the ghost of her own name; carol sees a key change', async () => {
    const { alice, bob, carol } = await threeMembers()
    const frame = await bobAdds(bob, await createMlsMember('alice'))
    const { pins } = await pinsOf(alice, bob)
    const atAlice = await takeCommit(stateOf(alice), frame, pins)
    expect(atAlice).toMatchObject({ ok: false, reason: 'invalid' })
    expect(atAlice.ok ? '' : atAlice.message).toContain('none of your devices approved')
    const atCarol = await pinsOf(carol, alice)
    expect(await takeCommit(stateOf(carol), frame, atCarol.pins)).toMatchObject({
      ok: false,
      reason: 'key_change',
    })
    expect(atCarol.events.map((event) => event.type)).toEqual(['key-change'])
  })

  test('approved by a key nobody trusts for her: refused by alice, a key change for carol', async () => {
    const { alice, bob, carol } = await threeMembers()
    const mallory = await createMlsMember('alice')
    const frame = await bobAdds(bob, await createLinkedDevice(mallory))
    const { pins } = await pinsOf(alice, bob)
    expect(await takeCommit(stateOf(alice), frame, pins)).toMatchObject({
      ok: false,
      reason: 'invalid',
    })
    const atCarol = await pinsOf(carol, alice)
    expect(await takeCommit(stateOf(carol), frame, atCarol.pins)).toMatchObject({
      ok: false,
      reason: 'key_change',
    })
  })

  test('whose approval is forged: refused by everyone as invalid', async () => {
    const { alice, bob, carol } = await threeMembers()
    const phone = await createLinkedDevice(alice)
    const links = phone.keys.links ?? []
    const forged = await createMlsMember('alice', phone.identity, [
      {
        by: alice.binding.identityKey,
        signature: (links[0]?.signature ?? '').replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
      },
    ])
    const frame = await bobAdds(bob, forged)
    const atCarol = await pinsOf(carol, alice)
    const taken = await takeCommit(stateOf(carol), frame, atCarol.pins)
    expect(taken).toMatchObject({ ok: false, reason: 'invalid' })
    expect(taken.ok ? '' : taken.message).toContain('do not verify')
    expect(atCarol.trust.pendingChanges()).toEqual([])
    const { pins } = await pinsOf(alice, bob)
    expect(await takeCommit(stateOf(alice), frame, pins)).toMatchObject({ reason: 'invalid' })
  })
})
