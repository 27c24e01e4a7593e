import { describe, expect, test } from 'bun:test'
import { createMlsMember, type MlsMember } from '../../tests/support/mls-member.ts'
import { epochDigest } from '../mls/public-group.ts'
import type { ClientFrame, Member } from '../protocol/frames.ts'
import { systemClock } from './clock.ts'
import { EventHub } from './event-hub.ts'
import type { ChatEvent } from './events.ts'
import { Membership } from './membership.ts'
import { createMemoryStores } from './memory-stores.ts'
import { groupIdOf, membersOf } from './mls.ts'
import { createTrustBook } from './trust-book.ts'

/** alice's membership, with every frame it sends and every event it emits kept. */
async function aliceMembership() {
  const alice = await createMlsMember('alice')
  const stores = createMemoryStores()
  const hub = new EventHub()
  const events: ChatEvent[] = []
  hub.on((event) => events.push(event))
  const sent: ClientFrame[] = []
  const trust = createTrustBook(stores.trust)
  const membership = new Membership({
    name: 'alice',
    store: stores.group,
    trust,
    hub,
    clock: systemClock,
    keys: () => alice.keys,
    self: () => {
      const own = alice.binding.identityKey
      return { name: 'alice', identityKey: own, personKey: own }
    },
    send: (frame) => sent.push(frame),
    setStatus: () => {},
    connected: () => true,
    log: { seen: () => 0, forgetThrough: () => {}, drain: async () => {}, clear: () => {} },
    joined: () => {},
  })
  return { alice, membership, sent, events, trust, stores }
}

/**
 * bob founds a group and adds the KeyPackage alice last sent (and those of `others`): the frames
 * the server would relay.
 */
async function bobAddsAlice(
  keyPackage: string,
  roster?: (members: Member[]) => Member[],
  others: MlsMember[] = [],
) {
  const bob = await createMlsMember('bob')
  await bob.found()
  const theirs = await Promise.all(others.map((other) => other.keyPackage()))
  const commit = await bob.commit({ add: [keyPackage, ...theirs] })
  commit.merge()
  const state = bob.state as NonNullable<MlsMember['state']>
  const members = membersOf(state).map(({ name, identityKey }) => ({ name, identityKey }))
  return {
    bob,
    welcome: {
      type: 'welcome' as const,
      from: 'bob',
      seq: 1,
      welcome: commit.welcome as string,
      roster: roster ? roster(members) : members,
      epochDigest: await epochDigest(state.groupContext, state.confirmationTag),
    },
  }
}

/** alice founds a group and adds these members in her own commit, which the log then shows. */
async function aliceFoundsWith(...others: MlsMember[]) {
  const made = await aliceMembership()
  await made.membership.askToJoin()
  await made.membership.found()
  const add = await Promise.all(
    others.map(async (other) => ({ name: other.name, keyPackage: await other.keyPackage() })),
  )
  await made.membership.commitRequested({ type: 'commit-request', epoch: 0, add, remove: [] })
  const commit = lastCommit(made.sent)
  await made.membership.readCommit({
    ...commitDelivered(1, 'alice', 0, commit.commit),
    adds: others.map((other) => other.binding),
  })
  for (const other of others) await other.join(commit.welcome as string)
  return made
}

function commitDelivered(seq: number, from: string, epoch: number, commit: string) {
  return { type: 'commit' as const, seq, from, at: seq, epoch, commit, adds: [], removes: [] }
}

function lastCommit(sent: ClientFrame[]): Extract<ClientFrame, { type: 'commit' }> {
  const frame = sent.findLast((item) => item.type === 'commit')
  if (frame?.type !== 'commit') throw new Error('no commit sent')
  return frame
}

const leafKeys = (membership: Membership) =>
  membersOf(membership.group as never).map((leaf) => leaf.identityKey)

function lastKeyPackage(sent: ClientFrame[]): string {
  const frame = sent.findLast((item) => item.type === 'key-package')
  if (frame?.type !== 'key-package') throw new Error('no key package sent')
  return frame.keyPackage
}

describe('Membership', () => {
  test('outside, it asks to be added; asked to found, it founds and is a member alone', async () => {
    const { membership, sent, events } = await aliceMembership()
    expect(membership.state.kind).toBe('outside')
    await membership.askToJoin()
    expect(membership.state.kind).toBe('joining')
    await membership.found()
    expect(membership.state.kind).toBe('member')
    expect(sent.map((frame) => frame.type)).toEqual(['key-package', 'group-founded'])
    await membership.whenMember()
    expect(events.find((event) => event.type === 'membership')).toMatchObject({
      epoch: 0,
      members: ['alice'],
    })
  })

  test('says when its own commit in flight is settled: merged from the log, or refused', async () => {
    const { membership, sent } = await aliceMembership()
    await membership.askToJoin()
    await membership.found()
    expect(membership.ownCommitSettled()).toBeUndefined()
    const bob = await createMlsMember('bob')
    const request = { type: 'commit-request' as const, epoch: 0, remove: [] as string[] }
    await membership.commitRequested({
      ...request,
      add: [{ name: 'bob', keyPackage: await bob.keyPackage() }],
    })
    const commit = sent.findLast((frame) => frame.type === 'commit')
    if (commit?.type !== 'commit') throw new Error('no commit sent')
    const settled = membership.ownCommitSettled()
    expect(settled).toBeInstanceOf(Promise)
    let done = false
    settled?.then(() => {
      done = true
    })
    await Bun.sleep(0)
    expect(done).toBe(false)
    await membership.readCommit({
      type: 'commit',
      seq: 1,
      from: 'alice',
      at: 1,
      epoch: 0,
      commit: commit.commit,
      adds: [bob.binding],
      removes: [],
    })
    await settled
    expect(membership.ownCommitSettled()).toBeUndefined()

    // Asked again and refused: settled as well.
    const carol = await createMlsMember('carol')
    await membership.commitRequested({
      ...request,
      epoch: 1,
      add: [{ name: 'carol', keyPackage: await carol.keyPackage() }],
    })
    const refused = membership.ownCommitSettled()
    membership.commitRefused()
    await refused
    expect(membership.ownCommitSettled()).toBeUndefined()
  })

  test('joins from a Welcome whose group is the one the server vouches for', async () => {
    const { membership, sent } = await aliceMembership()
    await membership.askToJoin()
    const { welcome, bob } = await bobAddsAlice(lastKeyPackage(sent))
    await membership.welcome(welcome)
    expect(membership.state).toMatchObject({ kind: 'member', lastSeq: 1 })
    expect(groupIdOf(membership.group as never)).toBe(groupIdOf(bob.state as never))
  })

  test('refuses a Welcome whose tree holds a member the server did not name, and asks again', async () => {
    const { membership, sent, events, trust } = await aliceMembership()
    await membership.askToJoin()
    const first = lastKeyPackage(sent)
    const { welcome } = await bobAddsAlice(first, (members) =>
      members.filter((member) => member.name !== 'bob'),
    )
    await membership.welcome(welcome)
    expect(membership.state.kind).toBe('joining')
    expect(sent.filter((frame) => frame.type === 'commit-refused')).toEqual([
      { type: 'commit-refused', seq: 1, reason: 'invalid' },
    ])
    expect(lastKeyPackage(sent)).not.toBe(first)
    expect(events.filter((event) => event.type === 'warning').map((event) => event.code)).toEqual([
      'group_integrity',
    ])
    // Nothing of the refused group was pinned.
    expect(await trust.get('bob')).toBeUndefined()
  })

  test('held out by a changed key, it asks to be added only once the user accepts it', async () => {
    const { membership, sent, trust } = await aliceMembership()
    await trust.observe('bob', 'B'.repeat(43))
    await membership.askToJoin()
    const { welcome } = await bobAddsAlice(lastKeyPackage(sent))
    await membership.welcome(welcome)
    expect(membership.state.kind).toBe('held-out')
    expect(sent.at(-1)).toEqual({ type: 'commit-refused', seq: 1, reason: 'key_change' })
    await membership.askToJoin()
    expect(sent.filter((frame) => frame.type === 'key-package')).toHaveLength(1)
    await trust.accept('bob')
    await membership.keysAccepted()
    expect(membership.state.kind).toBe('joining')
    expect(sent.filter((frame) => frame.type === 'key-package')).toHaveLength(2)
  })

  test('admitted again, it resumes its own group and leaves one the room no longer has', async () => {
    const { membership, alice } = await aliceMembership()
    await membership.askToJoin()
    await membership.found()
    const groupId = groupIdOf(membership.group as never)
    const ours = { groupId, epoch: 0, roster: [alice.binding.identityKey] }
    expect(await membership.admitted(ours, 0)).toBe(true)
    expect(await membership.admitted({ ...ours, groupId: 'X'.repeat(22) }, 0)).toBe(false)
    expect(membership.state.kind).toBe('joining')
  })

  test("admitted again, it rejoins when the roster holds another of alice's keys but not its own", async () => {
    const { membership } = await aliceMembership()
    await membership.askToJoin()
    await membership.found()
    const otherDevice = await createMlsMember('alice')
    const roster = [otherDevice.binding.identityKey]
    const status = { groupId: groupIdOf(membership.group as never), epoch: 0, roster }
    expect(await membership.admitted(status, 0)).toBe(false)
    expect(membership.state.kind).toBe('joining')
  })

  test("asked to remove one of bob's devices by its key, it keeps his other one", async () => {
    const { membership, sent, events } = await aliceMembership()
    await membership.askToJoin()
    // bob's phone adds alice and his laptop (alice's committer would not yet: her trust book
    // holds one key per name, so a second device's key reads as a changed one).
    const laptop = await createMlsMember('bob')
    const { welcome, bob: phone } = await bobAddsAlice(lastKeyPackage(sent), undefined, [laptop])
    await membership.welcome(welcome)
    const keys = [phone, laptop].map((device) => device.binding.identityKey)
    const [phoneKey, laptopKey] = keys as [string, string]
    expect(leafKeys(membership)).toContain(laptopKey)
    await membership.commitRequested({
      type: 'commit-request',
      epoch: 1,
      add: [],
      remove: [laptopKey],
    })
    const commit = lastCommit(sent)
    expect(commit).toMatchObject({ adds: [], removes: [laptopKey] })
    await membership.readCommit({
      ...commitDelivered(2, 'alice', 1, commit.commit),
      removes: [laptopKey],
    })
    expect(membership.state).toMatchObject({ kind: 'member', lastSeq: 2 })
    expect(sent.filter((frame) => frame.type === 'commit-refused')).toEqual([])
    expect(leafKeys(membership)).toContain(phoneKey)
    expect(leafKeys(membership)).not.toContain(laptopKey)
    expect(events.findLast((event) => event.type === 'membership')).toMatchObject({
      epoch: 2,
      members: ['bob', 'alice'],
      removed: ['bob'],
    })
  })

  test('takes a commit logged before devices, whose removes holds a name', async () => {
    const bob = await createMlsMember('bob')
    const carol = await createMlsMember('carol')
    const { membership, sent, events } = await aliceFoundsWith(bob, carol)
    const removal = await bob.commit({ remove: ['carol'] })
    await membership.readCommit({
      ...commitDelivered(2, 'bob', 1, removal.commit),
      removes: ['carol'],
    })
    expect(sent.filter((frame) => frame.type === 'commit-refused')).toEqual([])
    expect(membership.state).toMatchObject({ kind: 'member', lastSeq: 2 })
    expect(leafKeys(membership)).not.toContain(carol.binding.identityKey)
    expect(events.findLast((event) => event.type === 'membership')).toMatchObject({
      members: ['alice', 'bob'],
      removed: ['carol'],
    })
  })

  test('refuses a commit whose removes names someone other than the leaf it removes', async () => {
    const bob = await createMlsMember('bob')
    const carol = await createMlsMember('carol')
    const { membership, sent } = await aliceFoundsWith(bob, carol)
    const removal = await bob.commit({ remove: ['carol'] })
    await membership.readCommit({
      ...commitDelivered(2, 'bob', 1, removal.commit),
      removes: ['dave'],
    })
    expect(sent.filter((frame) => frame.type === 'commit-refused')).toEqual([
      { type: 'commit-refused', seq: 2, reason: 'invalid' },
    ])
    expect(membership.state.kind).toBe('joining')
  })
})
