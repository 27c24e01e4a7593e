import { afterEach, beforeEach, describe, expect, jest, test } from 'bun:test'
import { groupIdOf } from '../../../shared/client/mls.ts'
import {
  decodePublicGroup,
  encodePublicGroup,
  groupFromGroupInfo,
} from '../../../shared/mls/public-group.ts'
import { decodeBase64url, encodeBase64url } from '../../../shared/protocol/base64url.ts'
import type { ErrorCode, Member } from '../../../shared/protocol/frames.ts'
import { BLAME_MS, MAX_KEY_PACKAGE_BYTES, REJOIN_RATE } from '../../../shared/protocol/limits.ts'
import {
  COMMIT_TIMEOUT_MS,
  createHarness,
  type FrameOf,
  groupOf,
  type Harness,
  keysOf,
  LEAVE_GRACE_MS,
  logged,
  refusal,
  stopHarnesses,
  welcomeOf,
} from '../../../tests/support/delivery-harness.ts'
import { createMlsMember, type MlsMember } from '../../../tests/support/mls-member.ts'
import { keepEntries } from '../../../tests/support/retention.ts'
import { frameOf } from '../../../tests/support/wire.ts'
import { createMemoryStores } from './memory-stores.ts'
import type { CommitInput, CommitRefusal, GroupRecord } from './ports.ts'

beforeEach(() => {
  jest.useFakeTimers()
})

afterEach(() => {
  stopHarnesses()
  jest.useRealTimers()
})

const FOUND_REQUEST: FrameOf<'found-request'> = { type: 'found-request' }

/** The group as the server stores it, decoded: what it checks the next commit against. */
function storedView(harness: Harness) {
  const record = harness.store.groups.load()
  if (!record) throw new Error('no group is stored')
  return decodePublicGroup(decodeBase64url(record.state))
}

/** The status the server must show for the group `member` is in, with this roster of keys. */
function statusOf(member: MlsMember, roster: string[]) {
  if (!member.state) throw new Error(`${member.name} is in no group`)
  return {
    groupId: groupIdOf(member.state),
    epoch: Number(member.state.groupContext.epoch),
    roster,
  }
}

/** The logged commit frame an accepted commit must make. */
function logEntry(harness: Harness, from: string, seq: number, input: CommitInput) {
  return {
    type: 'commit',
    from,
    at: harness.clock.now,
    epoch: input.epoch,
    commit: input.commit,
    adds: input.adds.map((key) => deviceWith(harness, key).binding),
    removes: input.removes,
    seq,
  }
}

/** The device the harness holds with this identity key. */
function deviceWith(harness: Harness, key: string): MlsMember {
  const device = [...harness.members.values()].find((member) => member.binding.identityKey === key)
  if (!device) throw new Error(`no device has the key ${key}`)
  return device
}

/** The committers the event log says were blamed for commits members could not process. */
function blamed(harness: Harness) {
  return harness.events.filter((event) => event.event === 'commit_blamed')
}

/** A GroupRecord for a group `member` founds alone, as another instance would have stored it. */
async function foundedElsewhere(member: MlsMember): Promise<GroupRecord> {
  const view = await groupFromGroupInfo(decodeBase64url(await member.found()), member.binding)
  if (!view.ok) throw new Error(view.message)
  return {
    groupId: encodeBase64url(view.value.context.groupId),
    epoch: 0,
    roster: [member.binding.identityKey],
    state: encodeBase64url(encodePublicGroup(view.value)),
  }
}

/** Another Delivery Service on the store `before` left, as after a restart or on another instance. */
function sharing(before: Harness): Harness {
  return createHarness({
    store: before.store,
    initialGroup: before.store.groups.load(),
    members: before.members,
  })
}

const garbage = (length: number) => encodeBase64url(crypto.getRandomValues(new Uint8Array(length)))

describe('founding', () => {
  test('asks the first member who sends a key package in a room without a group to found one', async () => {
    const harness = createHarness()
    await harness.arrive('alice')
    expect(harness.sent).toEqual([['alice', FOUND_REQUEST]])
    expect(harness.delivery.status()).toBeNull()
  })

  test('takes the group the asked member founded as epoch 0 with that member alone', async () => {
    const harness = createHarness()
    const alice = await harness.arrive('alice')
    await harness.found('alice')
    const founded = statusOf(alice, keysOf(harness, ['alice']))
    expect(founded.epoch).toBe(0)
    expect(harness.delivery.status()).toEqual(founded)
    expect(harness.store.groups.load()).toEqual({ ...founded, state: expect.any(String) })
    expect(storedView(harness).context).toEqual(alice.state?.groupContext as never)
    expect(harness.sent).toEqual([['alice', FOUND_REQUEST]])
  })

  test('keeps the founder asked until its group is stored: a newcomer arriving meanwhile waits', async () => {
    const memory = createMemoryStores(keepEntries(1000))
    const reached = Promise.withResolvers<void>()
    const stored = Promise.withResolvers<void>()
    const harness = createHarness({
      store: {
        ...memory,
        groups: {
          ...memory.groups,
          async found(record) {
            reached.resolve()
            await stored.promise
            return memory.groups.found(record)
          },
        },
        flush() {},
        close() {},
      },
    })
    await harness.arrive('alice')
    const founding = harness.found('alice')
    await reached.promise
    await harness.arrive('bob')
    expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST])
    stored.resolve()
    await founding
    expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST, harness.request(0, ['bob'])])
    expect(harness.framesTo('bob')).toEqual([])
  })

  test('refuses a founding from a member nobody asked', async () => {
    const harness = createHarness()
    const alice = await harness.arrive('alice')
    await harness.arrive('bob')
    await harness.found('bob')
    expect(harness.framesTo('bob')).toEqual([refusal('unrequested_commit')])
    expect(harness.delivery.status()).toBeNull()
    expect(harness.store.groups.load()).toBeNull()

    const groupInfo = await harness.found('alice')
    await harness.delivery.groupFounded(alice.binding, groupInfo)
    expect(harness.framesTo('alice')).toEqual([
      FOUND_REQUEST,
      harness.request(0, ['bob']),
      refusal('unrequested_commit'),
    ])
    expect(harness.delivery.status()).toEqual(statusOf(alice, keysOf(harness, ['alice'])))
  })

  test('passes a founder that does not answer over for the next newcomer', async () => {
    const harness = createHarness()
    await harness.arrive('alice')
    const bob = await harness.arrive('bob')
    harness.tick(COMMIT_TIMEOUT_MS - 1)
    expect(harness.framesTo('bob')).toEqual([])
    harness.tick(1)
    expect(harness.framesTo('bob')).toEqual([FOUND_REQUEST])

    await harness.found('bob')
    expect(harness.delivery.status()).toEqual(statusOf(bob, keysOf(harness, ['bob'])))
    // Alice still waits to be added, and the new group's member is asked to add her.
    expect(harness.framesTo('bob')).toEqual([FOUND_REQUEST, harness.request(0, ['alice'])])
  })

  test('asks a lone founder that did not answer again', async () => {
    const harness = createHarness()
    await harness.arrive('alice')
    harness.tick(COMMIT_TIMEOUT_MS)
    expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST, FOUND_REQUEST])
  })

  test('refuses a founding another instance beat and takes the stored group instead', async () => {
    const harness = createHarness()
    const zed = await createMlsMember('zed')
    const elsewhere = await foundedElsewhere(zed)
    harness.store.groups.found(elsewhere)
    await harness.arrive('alice')
    await harness.found('alice')
    expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST, refusal('stale_epoch')])
    expect(harness.delivery.status()).toEqual(statusOf(zed, [zed.binding.identityKey]))
  })

  const badFoundings: Array<[string, ErrorCode, () => Promise<string>]> = [
    ['is not a GroupInfo', 'bad_group_info', async () => garbage(200)],
    [
      "holds someone else's leaf",
      'wrong_leaf',
      async () => (await createMlsMember('mallory')).found(),
    ],
    [
      "holds a leaf with the founder's name and another key",
      'key_mismatch',
      async () => (await createMlsMember('alice')).found(),
    ],
  ]

  test.each(badFoundings)(
    'refuses a GroupInfo that %s (%s) and asks the next newcomer at once',
    async (_, code, make) => {
      const harness = createHarness()
      const alice = await harness.arrive('alice')
      await harness.arrive('bob')
      await harness.delivery.groupFounded(alice.binding, await make())
      expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST, refusal(code)])
      expect(harness.framesTo('bob')).toEqual([FOUND_REQUEST])
      expect(harness.delivery.status()).toBeNull()
      expect(harness.store.groups.load()).toBeNull()
    },
  )
})

describe('key packages', () => {
  const badKeyPackages: Array<
    [string, ErrorCode, (harness: Harness) => Promise<{ sender: MlsMember; keyPackage: string }>]
  > = [
    [
      "names someone else's",
      'bad_key_package',
      async (harness) => ({
        sender: await createMlsMember('mallory'),
        keyPackage: await harness.member('alice').keyPackage(),
      }),
    ],
    [
      "carries someone else's key",
      'key_mismatch',
      async (harness) => {
        const stolen = await createMlsMember('mallory', harness.member('alice').identity)
        return { sender: await createMlsMember('mallory'), keyPackage: await stolen.keyPackage() }
      },
    ],
    [
      'is not one',
      'bad_key_package',
      async () => ({ sender: await createMlsMember('mallory'), keyPackage: garbage(300) }),
    ],
    [
      `is over ${MAX_KEY_PACKAGE_BYTES} bytes`,
      'bad_key_package',
      async () => ({
        sender: await createMlsMember('mallory'),
        keyPackage: garbage(MAX_KEY_PACKAGE_BYTES + 1),
      }),
    ],
  ]

  test.each(badKeyPackages)(
    'refuses a key package that %s (%s) and asks nobody to add its sender',
    async (_, code, make) => {
      const harness = await groupOf(['alice'])
      const { sender, keyPackage } = await make(harness)
      const mark = harness.sent.length
      harness.members.set(sender.name, sender)
      harness.online.push(sender.name)
      harness.delivery.memberOnline(sender.binding)
      await harness.delivery.keyPackage(sender.binding, keyPackage)
      expect(harness.sent.slice(mark)).toEqual([[sender.name, refusal(code)]])
    },
  )

  test(`limits the key packages of one name to ${REJOIN_RATE.burst} at once, then one every 20 s`, async () => {
    const harness = await groupOf(['alice'])
    await harness.arrive('carol')
    for (let sent = 1; sent < REJOIN_RATE.burst; sent += 1) await harness.offer('carol')
    expect(harness.framesTo('carol')).toEqual([])
    // The request to alice went out for carol's first KeyPackage; later ones wait behind it.
    const mark = harness.framesTo('alice').length

    await harness.offer('carol')
    expect(harness.framesTo('carol')).toEqual([refusal('rejoin_limited')])
    harness.clock.now += 10_000
    await harness.offer('carol')
    expect(harness.framesTo('carol')).toEqual([
      refusal('rejoin_limited'),
      refusal('rejoin_limited'),
    ])
    harness.clock.now += 20_000
    const accepted = await harness.offer('carol')
    await harness.offer('carol')
    expect(harness.framesTo('carol')).toEqual([
      refusal('rejoin_limited'),
      refusal('rejoin_limited'),
      refusal('rejoin_limited'),
    ])

    // The KeyPackage that was let through is the one relayed next.
    harness.tick(COMMIT_TIMEOUT_MS)
    expect(harness.framesTo('alice').slice(mark)).toEqual([
      {
        type: 'commit-request',
        epoch: 0,
        add: [{ name: 'carol', keyPackage: accepted }],
        remove: [],
      },
    ])
  })

  test('limits key packages per name, not for everyone', async () => {
    const harness = await groupOf(['alice'])
    await harness.arrive('carol')
    for (let sent = 1; sent <= REJOIN_RATE.burst; sent += 1) await harness.offer('carol')
    expect(harness.framesTo('carol')).toEqual([refusal('rejoin_limited')])
    await harness.arrive('dave')
    expect(harness.framesTo('dave')).toEqual([])
  })
})

describe('commit requests', () => {
  test("asks the first online roster member to commit a newcomer's key package", async () => {
    const harness = await groupOf(['alice', 'bob'])
    const marks = { alice: harness.framesTo('alice').length, bob: harness.framesTo('bob').length }
    await harness.arrive('carol')
    expect(harness.framesTo('alice').slice(marks.alice)).toEqual([harness.request(1, ['carol'])])
    expect(harness.framesTo('bob').slice(marks.bob)).toEqual([])
    expect(harness.framesTo('carol')).toEqual([])
  })

  test('batches newcomers who arrive while a request is out into the next request', async () => {
    const harness = createHarness()
    const alice = await harness.arrive('alice')
    await harness.found('alice')
    await harness.arrive('bob')
    await harness.arrive('carol')
    await harness.arrive('dave')
    expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST, harness.request(0, ['bob'])])

    await harness.commit('alice')
    expect(harness.framesTo('alice').slice(2)).toEqual([harness.request(1, ['carol', 'dave'])])
    const welcome = welcomeOf(await harness.commit('alice'))
    expect(harness.delivery.status()).toEqual(
      statusOf(alice, keysOf(harness, ['alice', 'bob', 'carol', 'dave'])),
    )
    expect(welcome).toMatchObject({ from: 'alice', seq: 2 })
    expect(harness.framesTo('carol')).toEqual([welcome])
    expect(harness.framesTo('dave')).toEqual([welcome])
    expect(storedView(harness).context).toEqual(harness.member('dave').state?.groupContext as never)
  })

  test('logs and broadcasts an accepted commit, welcomes each added member and moves the epoch on', async () => {
    const harness = createHarness()
    const alice = await harness.arrive('alice')
    await harness.found('alice')
    await harness.arrive('bob')
    const first = await harness.commit('alice')
    await harness.arrive('carol')
    await harness.arrive('dave')
    harness.leave('bob', 'quit')
    // The request for carol was out before bob quit; his removal and dave come next.
    const second = await harness.commit('alice')
    expect(harness.framesTo('alice').at(-1)).toEqual(harness.request(2, ['dave'], ['bob']))
    const third = await harness.commit('alice')

    const expected = [
      logEntry(harness, 'alice', 1, first.input),
      logEntry(harness, 'alice', 2, second.input),
      logEntry(harness, 'alice', 3, third.input),
    ]
    expect([first, second, third].map(({ input }) => [input.adds, input.removes])).toEqual([
      [keysOf(harness, ['bob']), []],
      [keysOf(harness, ['carol']), []],
      [keysOf(harness, ['dave']), keysOf(harness, ['bob'])],
    ])
    expect(harness.broadcasts.map((wire) => frameOf(wire) as object)).toEqual(expected)
    expect((await harness.store.log.readAfter(0, 10)).map((entry) => entry.wire)).toEqual(
      harness.broadcasts,
    )
    expect(harness.framesTo('bob')).toEqual([welcomeOf(first)])
    expect(harness.framesTo('carol')).toEqual([welcomeOf(second)])
    expect(harness.framesTo('dave')).toEqual([welcomeOf(third)])
    // Dave takes the leaf bob left, so he comes before carol in the tree.
    const status = statusOf(alice, keysOf(harness, ['alice', 'dave', 'carol']))
    expect(status.epoch).toBe(3)
    expect(harness.delivery.status()).toEqual(status)
    expect(harness.store.groups.load()).toEqual({ ...status, state: expect.any(String) })
  })

  test('accepts one commit when the asked member sends it twice at once', async () => {
    const harness = await groupOf(['alice', 'bob'])
    await harness.arrive('carol')
    const mark = harness.framesTo('alice').length
    const input = await harness.prepare('alice')
    await Promise.all([
      harness.delivery.commit(harness.member('alice').binding, input),
      harness.delivery.commit(harness.member('alice').binding, input),
    ])
    expect(harness.framesTo('alice').slice(mark)).toEqual([refusal('stale_epoch')])
    expect(await logged(harness)).toEqual([
      expect.objectContaining({ seq: 1 }),
      logEntry(harness, 'alice', 2, input),
    ])
    expect(harness.framesTo('carol')).toEqual([
      expect.objectContaining({ type: 'welcome', seq: 2 }),
    ])
  })

  test('refuses as stale a commit that another instance logged for the epoch first', async () => {
    const before = await groupOf(['alice', 'bob'])
    before.delivery.stop()
    const [here, there] = [sharing(before), sharing(before)]
    here.comeBack('alice')
    there.comeBack('alice')
    const carol = await here.arrive('carol')
    there.online.push('carol')
    there.delivery.memberOnline(carol.binding)
    await there.delivery.keyPackage(carol.binding, here.keyPackageOf('carol'))
    expect(there.framesTo('alice')).toEqual([here.request(1, ['carol'])])

    const input = await here.prepare('alice')
    await here.send('alice', input)
    await there.delivery.commit(here.member('alice').binding, input)
    expect(there.framesTo('alice').at(-1)).toEqual({
      type: 'error',
      code: 'stale_epoch',
      message: 'another commit won this epoch',
      fatal: false,
    })
    expect(there.broadcasts).toEqual([])
    // The other instance's commit is what the store holds now: this one follows it.
    expect(there.delivery.status()?.epoch).toBe(2)
    expect(await logged(here)).toEqual([
      expect.objectContaining({ seq: 1 }),
      logEntry(here, 'alice', 2, input),
    ])
  })

  test('accepts the commit of the member it asked when another commits at once', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const alice = harness.member('alice')
    await harness.arrive('carol')
    const bobMark = harness.framesTo('bob').length
    const fromAlice = await harness.prepare('alice')
    const fromBob = await harness.prepare('bob', { add: [harness.keyPackageOf('carol')] })
    const [accepted] = await Promise.all([
      harness.send('alice', fromAlice),
      harness.send('bob', fromBob),
    ])
    expect(harness.framesTo('bob').slice(bobMark)).toEqual([
      {
        type: 'error',
        code: 'unrequested_commit',
        message: 'nobody asked you to commit',
        fatal: false,
      },
    ])
    expect(await logged(harness)).toEqual([
      expect.objectContaining({ seq: 1, from: 'alice' }),
      logEntry(harness, 'alice', 2, fromAlice),
    ])
    expect(harness.broadcasts).toHaveLength(2)
    expect(harness.framesTo('carol')).toEqual([welcomeOf(accepted)])
    expect(harness.delivery.status()).toEqual(
      statusOf(alice, keysOf(harness, ['alice', 'bob', 'carol'])),
    )
  })

  test('refuses a commit from a newcomer outside the group and keeps the request out', async () => {
    const harness = await groupOf(['alice', 'bob'])
    await harness.arrive('carol')
    const mark = harness.sent.length
    // Carol founds a group of her own and commits in it, claiming to add herself.
    await harness.member('carol').found()
    const own = await harness.prepare('carol', {})
    await harness.send('carol', { ...own, epoch: 1, adds: keysOf(harness, ['carol']) })
    expect(harness.sent.slice(mark)).toEqual([['carol', refusal('unrequested_commit')]])
    expect(harness.delivery.status()?.epoch).toBe(1)
  })

  test('refuses a commit while the room has no group and asks the next newcomer to found it', async () => {
    const harness = createHarness()
    const alice = await harness.arrive('alice')
    await harness.arrive('bob')
    const stray = { epoch: 0, commit: garbage(64), adds: [], removes: keysOf(harness, ['bob']) }
    await harness.delivery.commit(alice.binding, stray)
    expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST, refusal('not_in_group')])
    expect(harness.framesTo('bob')).toEqual([FOUND_REQUEST])
  })

  test('refuses a rejoin commit that keeps the old leaf and accepts one that removes it', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const alice = harness.member('alice')
    // Bob lost his state and asks to be added afresh.
    await harness.offer('bob')
    const request = harness.request(1, ['bob'], ['bob'])
    expect(harness.framesTo('alice').at(-1)).toEqual(request)

    const mark = harness.framesTo('alice').length
    await harness.commit('alice', undefined, { removes: [] })
    // Passed over for it, alice is asked again: nobody else can commit.
    expect(harness.framesTo('alice').slice(mark)).toEqual([refusal('unrequested_commit'), request])
    expect(harness.delivery.status()?.epoch).toBe(1)

    const rejoined = await harness.commit('alice')
    expect(harness.delivery.status()).toEqual(statusOf(alice, keysOf(harness, ['alice', 'bob'])))
    expect(harness.delivery.status()?.epoch).toBe(2)
    expect(harness.framesTo('bob').at(-1)).toEqual(welcomeOf(rejoined))
    expect(welcomeOf(rejoined).seq).toBe(2)
  })

  test('forgets a newcomer who leaves before it is added', async () => {
    const harness = await groupOf(['alice', 'bob'])
    await harness.arrive('carol')
    await harness.arrive('dave')
    harness.leave('dave', 'disconnect')
    const mark = harness.sent.length
    const added = await harness.commit('alice')
    expect(added.input.adds).toEqual(keysOf(harness, ['carol']))
    // Dave could not take a Welcome now; he sends a new KeyPackage when he returns.
    expect(harness.sent.slice(mark)).toEqual([['carol', welcomeOf(added)]])
  })

  test('tells a newcomer the committer left out that it was not added', async () => {
    const harness = createHarness()
    await harness.arrive('alice')
    await harness.found('alice')
    await harness.arrive('bob')
    await harness.arrive('carol')
    await harness.arrive('dave')
    await harness.commit('alice')
    expect(harness.framesTo('alice').at(-1)).toEqual(harness.request(1, ['carol', 'dave']))
    const added = await harness.commit('alice', { add: [harness.keyPackageOf('carol')] })
    expect(harness.framesTo('dave')).toEqual([refusal('not_in_group')])
    expect(harness.framesTo('carol')).toEqual([welcomeOf(added)])
    // Dave is no longer pending: nobody is asked to add him.
    const mark = harness.sent.length
    harness.tick(COMMIT_TIMEOUT_MS * 3)
    expect(harness.sent.slice(mark)).toEqual([])
  })
})

describe('refused commits', () => {
  interface Answer {
    readonly input: CommitInput
    /** Who the room says sent it; alice with the key she is bound to unless given. */
    readonly from?: Member
  }

  /** Alice's answers to a request to add dave to alice, bob and carol at epoch 2. */
  const refusedCommits: Array<[string, ErrorCode, (harness: Harness) => Promise<Answer>]> = [
    [
      'claims an epoch the group has left',
      'stale_epoch',
      async (harness) => ({ input: await harness.prepare('alice', undefined, { epoch: 1 }) }),
    ],
    [
      'adds someone nobody asked to add',
      'unrequested_commit',
      async (harness) => {
        const mallory = await createMlsMember('mallory')
        const add = [harness.keyPackageOf('dave'), await mallory.keyPackage()]
        return { input: await harness.prepare('alice', { add }) }
      },
    ],
    [
      'removes someone who is not to be removed',
      'unrequested_commit',
      async (harness) => ({
        input: await harness.prepare('alice', {
          add: [harness.keyPackageOf('dave')],
          remove: ['bob'],
        }),
      }),
    ],
    [
      'changes nothing',
      'unrequested_commit',
      async (harness) => ({ input: await harness.prepare('alice', {}) }),
    ],
    [
      'claims the same newcomer twice',
      'commit_mismatch',
      async (harness) => ({
        input: await harness.prepare('alice', undefined, {
          adds: keysOf(harness, ['dave', 'dave']),
        }),
      }),
    ],
    [
      'adds a newcomer without a Welcome',
      'bad_commit',
      async (harness) => {
        const { welcome: _, ...input } = await harness.prepare('alice')
        return { input }
      },
    ],
    [
      'is not an MLS message',
      'bad_commit',
      async (harness) => ({ input: { ...(await harness.prepare('alice')), commit: garbage(300) } }),
    ],
    [
      'is an older commit sent again under this epoch',
      'bad_commit',
      async (harness) => {
        const [, addedCarol] = await logged(harness)
        const honest = await harness.prepare('alice')
        return { input: { ...honest, commit: addedCarol?.commit ?? '' } }
      },
    ],
    [
      'adds the newcomer with another KeyPackage than the one relayed',
      'commit_mismatch',
      async (harness) => {
        const other = await harness.member('dave').keyPackage()
        return { input: await harness.prepare('alice', { add: [other] }) }
      },
    ],
    [
      'also removes a member it does not claim to',
      'commit_mismatch',
      async (harness) => ({
        input: await harness.prepare(
          'alice',
          { add: [harness.keyPackageOf('dave')], remove: ['carol'] },
          { removes: [] },
        ),
      }),
    ],
    [
      "was made from another member's leaf",
      'wrong_leaf',
      async (harness) => ({
        input: await harness.prepare('bob', { add: [harness.keyPackageOf('dave')] }),
      }),
    ],
    [
      "is signed with another key than the committer's",
      'bad_signature',
      async (harness) => {
        const alice = harness.member('alice')
        const honest = alice.state
        if (!honest) throw new Error('alice is in no group')
        const mallory = await createMlsMember('mallory')
        alice.state = { ...honest, signaturePrivateKey: mallory.identity.privateKeyBytes }
        const input = await harness.prepare('alice')
        alice.state = honest
        return { input }
      },
    ],
  ]

  test.each(refusedCommits)(
    'refuses a commit that %s (%s) and asks the next member at once',
    async (_, code, answer) => {
      const harness = await groupOf(['alice', 'bob', 'carol'])
      await harness.arrive('dave')
      const request = harness.request(2, ['dave'])
      expect(harness.framesTo('alice').at(-1)).toEqual(request)
      const marks = { alice: harness.framesTo('alice').length, bob: harness.framesTo('bob').length }
      const { input, from } = await answer(harness)
      await harness.send('alice', input, from)
      expect(harness.framesTo('alice').slice(marks.alice)).toEqual([refusal(code)])
      expect(harness.framesTo('bob').slice(marks.bob)).toEqual([request])
      expect(harness.framesTo('dave')).toEqual([])
      expect(harness.delivery.status()?.epoch).toBe(2)
      expect(await logged(harness)).toHaveLength(2)
    },
  )

  test('accepts the commit of the member asked after a refused one', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol'])
    const bob = harness.member('bob')
    await harness.arrive('dave')
    await harness.send('alice', { ...(await harness.prepare('alice')), commit: garbage(300) })
    const added = await harness.commit('bob')
    expect(harness.delivery.status()).toEqual(
      statusOf(bob, keysOf(harness, ['alice', 'bob', 'carol', 'dave'])),
    )
    expect(harness.framesTo('dave')).toEqual([welcomeOf(added)])
    expect(harness.member('alice').state?.groupContext).toEqual(bob.state?.groupContext as never)
  })
})

describe('committer timeout', () => {
  test('asks the next online roster member when the committer does not answer in time', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const bob = harness.member('bob')
    const bobMark = harness.framesTo('bob').length
    await harness.arrive('carol')
    const request = harness.request(1, ['carol'])
    expect(harness.framesTo('alice').at(-1)).toEqual(request)
    harness.tick(COMMIT_TIMEOUT_MS - 1)
    expect(harness.framesTo('bob').slice(bobMark)).toEqual([])
    harness.tick(1)
    expect(harness.framesTo('bob').slice(bobMark)).toEqual([request])

    // Alice's answer comes too late: she is no longer the one asked.
    await harness.commit('alice')
    expect(harness.framesTo('alice').at(-1)).toEqual(refusal('unrequested_commit'))
    const added = await harness.commit('bob')
    expect(harness.delivery.status()).toEqual(
      statusOf(bob, keysOf(harness, ['alice', 'bob', 'carol'])),
    )
    expect(harness.framesTo('carol')).toEqual([welcomeOf(added)])
    expect(welcomeOf(added).from).toBe('bob')

    // Being passed over lasts one epoch: the next request goes to alice again.
    const aliceMark = harness.framesTo('alice').length
    await harness.arrive('dave')
    expect(harness.framesTo('alice').slice(aliceMark)).toEqual([harness.request(2, ['dave'])])
  })

  test('asks the only candidate again when it let the request time out', async () => {
    const harness = createHarness()
    await harness.arrive('alice')
    await harness.found('alice')
    await harness.arrive('bob')
    const request = harness.request(0, ['bob'])
    expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST, request])
    harness.tick(COMMIT_TIMEOUT_MS)
    expect(harness.framesTo('alice')).toEqual([FOUND_REQUEST, request, request])
    expect(harness.framesTo('bob')).toEqual([])
  })

  test('moves the request on at once when the asked committer goes offline', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol'])
    const bobMark = harness.framesTo('bob').length
    await harness.arrive('dave')
    const request = harness.request(2, ['dave'])
    expect(harness.framesTo('alice').at(-1)).toEqual(request)
    harness.leave('alice', 'disconnect')
    expect(harness.framesTo('bob').slice(bobMark)).toEqual([request])
  })
})

describe('leaving', () => {
  test('asks for a removal at once after /quit', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const mark = harness.framesTo('alice').length
    harness.leave('bob', 'quit')
    expect(harness.framesTo('alice').slice(mark)).toEqual([harness.request(1, [], ['bob'])])
    await harness.commit('alice')
    expect(harness.delivery.status()).toEqual(
      statusOf(harness.member('alice'), keysOf(harness, ['alice'])),
    )
  })

  test('asks for a removal only after the grace period after a disconnect', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const mark = harness.framesTo('alice').length
    harness.leave('bob', 'disconnect')
    harness.tick(LEAVE_GRACE_MS - 1)
    expect(harness.framesTo('alice').slice(mark)).toEqual([])
    harness.tick(1)
    expect(harness.framesTo('alice').slice(mark)).toEqual([harness.request(1, [], ['bob'])])
  })

  test('keeps a member who comes back within the grace period', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const mark = harness.sent.length
    harness.leave('bob', 'disconnect')
    harness.tick(LEAVE_GRACE_MS / 4)
    harness.comeBack('bob')
    harness.tick(LEAVE_GRACE_MS * 3)
    expect(harness.sent.slice(mark)).toEqual([])
    expect(harness.delivery.status()?.roster).toEqual(keysOf(harness, ['alice', 'bob']))
  })

  test('ignores the leaves of a shutdown or a replaced connection', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const mark = harness.sent.length
    harness.delivery.memberOffline(harness.member('bob').binding, 'shutdown')
    harness.delivery.memberOffline(harness.member('bob').binding, 'replaced')
    harness.tick(LEAVE_GRACE_MS * 3)
    expect(harness.sent.slice(mark)).toEqual([])
  })

  test('dissolves the group when every member quit and lets a waiting newcomer found the next', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const carol = await harness.arrive('carol')
    harness.leave('bob', 'quit')
    expect(harness.delivery.status()).not.toBeNull()
    harness.leave('alice', 'quit')
    expect(harness.delivery.status()).toBeNull()
    expect(harness.store.groups.load()).toBeNull()
    expect(await harness.next('carol', 'found-request')).toEqual(FOUND_REQUEST)
    expect(harness.framesTo('carol')).toEqual([FOUND_REQUEST])

    await harness.found('carol')
    const founded = statusOf(carol, keysOf(harness, ['carol']))
    expect(harness.store.groups.load()).toEqual({ ...founded, state: expect.any(String) })
  })

  test('keeps a group whose members all quit while nobody waits to join', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const { groupId } = statusOf(harness.member('alice'), [])
    harness.leave('bob', 'quit')
    harness.leave('alice', 'quit')
    harness.tick(LEAVE_GRACE_MS * 3)
    expect(harness.delivery.status()?.groupId).toBe(groupId)
    expect(harness.store.groups.load()?.groupId).toBe(groupId)
  })
})

describe('devices', () => {
  /** Alice on two devices, her laptop ('alice') and her phone ('alice-phone'), and bob: epoch 2. */
  async function withPhone(): Promise<Harness> {
    const harness = await groupOf(['alice', 'bob'])
    await harness.arrive('alice-phone', 'alice')
    await harness.commit('alice')
    expect(harness.member('alice-phone').name).toBe('alice')
    expect(harness.delivery.status()?.roster).toEqual(
      keysOf(harness, ['alice', 'bob', 'alice-phone']),
    )
    return harness
  }

  test('removes only the leaf of the device that quit and keeps the other devices of its name', async () => {
    const harness = await withPhone()
    const mark = harness.framesTo('alice').length
    harness.leave('alice-phone', 'quit')
    expect(harness.framesTo('alice').slice(mark)).toEqual([harness.request(2, [], ['alice-phone'])])
    await harness.commit('alice')
    expect(harness.delivery.status()).toEqual(
      statusOf(harness.member('alice'), keysOf(harness, ['alice', 'bob'])),
    )
  })

  test("asks to remove every leaf of a name on the admin's word", async () => {
    const harness = await withPhone()
    const marks = { alice: harness.framesTo('alice').length, bob: harness.framesTo('bob').length }
    harness.delivery.remove('alice')
    expect(harness.framesTo('bob').slice(marks.bob)).toEqual([
      harness.request(2, [], ['alice', 'alice-phone']),
    ])
    await harness.commit('bob')
    expect(harness.delivery.status()).toEqual(
      statusOf(harness.member('bob'), keysOf(harness, ['bob'])),
    )
    expect(harness.framesTo('alice').slice(marks.alice)).toEqual([])
  })

  test('refuses a commit from a device of the asked name other than the asked one and keeps the request out', async () => {
    const harness = await withPhone()
    await harness.arrive('carol')
    const request = harness.request(2, ['carol'])
    expect(harness.framesTo('alice').at(-1)).toEqual(request)
    const marks = { alice: harness.framesTo('alice').length, bob: harness.framesTo('bob').length }
    const fromPhone = await harness.prepare('alice-phone', { add: [harness.keyPackageOf('carol')] })
    await harness.send('alice-phone', fromPhone)
    expect(harness.framesTo('alice-phone').at(-1)).toEqual(refusal('unrequested_commit'))
    expect(harness.framesTo('alice').slice(marks.alice)).toEqual([])
    expect(harness.framesTo('bob').slice(marks.bob)).toEqual([])

    const added = await harness.commit('alice')
    expect(harness.framesTo('carol')).toEqual([welcomeOf(added)])
    expect(harness.delivery.status()?.roster).toEqual(
      keysOf(harness, ['alice', 'bob', 'alice-phone', 'carol']),
    )
  })

  test("refuses a commit made from another device's leaf of the asked name (key_mismatch) and asks the next member at once", async () => {
    const harness = await withPhone()
    await harness.arrive('carol')
    const request = harness.request(2, ['carol'])
    const marks = { alice: harness.framesTo('alice').length, bob: harness.framesTo('bob').length }
    // The laptop was asked, but what it sends was made from the phone's leaf.
    const fromPhone = await harness.prepare('alice-phone', { add: [harness.keyPackageOf('carol')] })
    await harness.send('alice', fromPhone)
    expect(harness.framesTo('alice').slice(marks.alice)).toEqual([refusal('key_mismatch')])
    expect(harness.framesTo('bob').slice(marks.bob)).toEqual([request])
    expect(harness.delivery.status()?.epoch).toBe(2)
  })
})

describe('blame', () => {
  test('passes over a committer whose commit a member could not process and has the next remove it', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol'])
    await harness.arrive('dave')
    await harness.commit('alice')
    await harness.arrive('erin')
    expect(harness.framesTo('alice').at(-1)).toEqual(harness.request(3, ['erin']))
    const marks = {
      alice: harness.framesTo('alice').length,
      carol: harness.framesTo('carol').length,
    }

    harness.refused('bob', { seq: 3, reason: 'invalid' })
    expect(harness.framesTo('carol').slice(marks.carol)).toEqual([
      harness.request(3, ['erin'], ['bob', 'alice']),
    ])
    expect(harness.framesTo('alice').slice(marks.alice)).toEqual([])
    expect(blamed(harness)).toEqual([
      { event: 'commit_blamed', reporter: 'bob', committer: 'alice', seq: 3 },
    ])

    await harness.commit('carol')
    expect(harness.delivery.status()).toEqual(
      statusOf(harness.member('carol'), keysOf(harness, ['erin', 'carol', 'dave'])),
    )
  })

  test('keeps asking to remove the leaf of a reporter that reconnects without asking to rejoin', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol'])
    harness.refused('bob', { seq: 2, reason: 'key_change' })
    const request = harness.request(2, [], ['bob'])
    expect(harness.framesTo('alice').at(-1)).toEqual(request)
    const carolMark = harness.framesTo('carol').length
    harness.leave('bob', 'disconnect')
    harness.comeBack('bob')
    harness.tick(COMMIT_TIMEOUT_MS)
    // Alice let the request time out: the removal of bob's dead leaf goes on to carol.
    expect(harness.framesTo('carol').slice(carolMark)).toEqual([request])
  })

  test('keeps asking to remove a blamed committer that comes back online', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol', 'dave'])
    harness.refused('bob', { seq: 3, reason: 'invalid' })
    const request = harness.request(3, [], ['bob', 'alice'])
    expect(harness.framesTo('carol').at(-1)).toEqual(request)
    const daveMark = harness.framesTo('dave').length

    harness.leave('alice', 'disconnect')
    harness.comeBack('alice')
    harness.tick(COMMIT_TIMEOUT_MS)
    // Carol let the request time out; dave is next, and alice is still not asked.
    expect(harness.framesTo('dave').slice(daveMark)).toEqual([request])
    expect(harness.framesTo('alice').filter((frame) => frame.type === 'commit-request')).toEqual([
      harness.request(0, ['bob']),
      harness.request(1, ['carol']),
      harness.request(2, ['dave']),
    ])
  })

  test('asks a blamed committer to commit again only after the blame has run out', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol'])
    harness.refused('bob', { seq: 2, reason: 'invalid' })
    await harness.commit('carol')
    expect(harness.delivery.status()?.roster).toEqual(keysOf(harness, ['carol']))
    // Alice and bob rejoin; carol adds them both.
    await harness.offer('alice')
    await harness.offer('bob')
    await harness.commit('carol')
    expect(harness.framesTo('carol').at(-1)).toEqual(harness.request(4, ['bob']))
    await harness.commit('carol')
    expect(harness.delivery.status()?.roster).toEqual(keysOf(harness, ['alice', 'bob', 'carol']))

    harness.clock.now += BLAME_MS - 1
    const aliceMark = harness.framesTo('alice').length
    await harness.arrive('dave')
    expect(harness.framesTo('bob').at(-1)).toEqual(harness.request(5, ['dave']))
    expect(harness.framesTo('alice').slice(aliceMark)).toEqual([])
    harness.leave('bob', 'disconnect')
    // Bob was asked and left: the next is carol, since alice is still blamed.
    expect(harness.framesTo('carol').at(-1)).toEqual(harness.request(5, ['dave']))

    harness.clock.now += 1
    harness.leave('carol', 'disconnect')
    expect(harness.framesTo('alice').slice(aliceMark)).toEqual([harness.request(5, ['dave'])])
  })

  const blameless: Array<[string, CommitRefusal]> = [
    ['a commit older than the last', { seq: 1, reason: 'invalid' }],
    ['a key it does not trust in the last commit', { seq: 2, reason: 'key_change' }],
  ]

  test.each(blameless)(
    'blames nobody for a report about %s and only removes its reporter',
    async (_, report) => {
      const harness = await groupOf(['alice', 'bob', 'carol'])
      const mark = harness.framesTo('alice').length
      harness.refused('bob', report)
      expect(harness.framesTo('alice').slice(mark)).toEqual([harness.request(2, [], ['bob'])])
      expect(blamed(harness)).toEqual([])
    },
  )

  test('blames nobody when the committer reports its own commit, and lets it commit after rejoining', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol'])
    harness.refused('alice', { seq: 2, reason: 'invalid' })
    expect(harness.framesTo('bob').at(-1)).toEqual(harness.request(2, [], ['alice']))
    expect(blamed(harness)).toEqual([])
    await harness.commit('bob')
    await harness.offer('alice')
    expect(harness.framesTo('bob').at(-1)).toEqual(harness.request(3, ['alice']))
    await harness.commit('bob')
    expect(harness.delivery.status()?.roster).toEqual(keysOf(harness, ['alice', 'bob', 'carol']))

    const aliceMark = harness.framesTo('alice').length
    await harness.arrive('dave')
    expect(harness.framesTo('alice').slice(aliceMark)).toEqual([harness.request(4, ['dave'])])
  })

  test('dissolves a group only blamed members could commit in once a newcomer waits', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol'])
    // Carol is away, within her grace: without blame the group would wait for her.
    harness.leave('carol', 'disconnect')
    harness.refused('bob', { seq: 2, reason: 'invalid' })
    const { groupId } = statusOf(harness.member('alice'), [])
    expect(harness.delivery.status()?.roster).toEqual(keysOf(harness, ['alice', 'bob', 'carol']))
    const marks = { alice: harness.framesTo('alice').length, bob: harness.framesTo('bob').length }

    const dave = await harness.arrive('dave')
    expect(await harness.next('dave', 'found-request')).toEqual(FOUND_REQUEST)
    expect(harness.delivery.status()).toBeNull()
    expect(harness.store.groups.load()).toBeNull()
    expect(harness.events).toContainEqual({ event: 'group_ended', epoch: 2, reason: 'poisoned' })
    // The members still online are told their group is gone.
    const ended: FrameOf<'group-ended'> = { type: 'group-ended', groupId }
    expect(harness.framesTo('alice').slice(marks.alice)).toEqual([ended])
    expect(harness.framesTo('bob').slice(marks.bob)).toEqual([ended])
    expect(harness.framesTo('carol').filter((frame) => frame.type === 'group-ended')).toEqual([])

    // Alice, blamed, asks to be added too; dave is asked to found, and again, never alice.
    const aliceMark = harness.framesTo('alice').length
    await harness.offer('alice')
    harness.tick(COMMIT_TIMEOUT_MS)
    expect(harness.framesTo('dave')).toEqual([FOUND_REQUEST, FOUND_REQUEST])
    expect(harness.framesTo('alice').slice(aliceMark)).toEqual([])

    await harness.found('dave')
    expect(harness.delivery.status()).toEqual(statusOf(dave, keysOf(harness, ['dave'])))
    expect(harness.framesTo('dave').at(-1)).toEqual(harness.request(0, ['alice']))
  })
})

describe('after a restart', () => {
  /** The group of `names` as the store held it when the server stopped; nobody is online. */
  async function restarted(names: [string, ...string[]]): Promise<Harness> {
    const before = await groupOf(names)
    before.delivery.stop()
    return sharing(before)
  }

  test('asks to remove roster members who stay away past the grace once someone can commit', async () => {
    const harness = await restarted(['alice', 'bob', 'carol'])
    harness.tick(LEAVE_GRACE_MS * 3)
    expect(harness.sent).toEqual([])
    expect(harness.delivery.status()?.roster).toEqual(keysOf(harness, ['alice', 'bob', 'carol']))

    harness.comeBack('alice')
    expect(harness.sent).toEqual([['alice', harness.request(2, [], ['bob', 'carol'])]])
    await harness.commit('alice')
    expect(harness.store.groups.load()).toEqual({
      ...statusOf(harness.member('alice'), keysOf(harness, ['alice'])),
      state: expect.any(String),
    })
    expect(harness.delivery.status()?.epoch).toBe(3)
  })

  test('reads a roster stored as names, from before devices, as the keys of its leaves', async () => {
    const before = await groupOf(['alice', 'bob'])
    before.delivery.stop()
    const record = before.store.groups.load()
    if (!record) throw new Error('no group is stored')
    const harness = createHarness({
      store: before.store,
      initialGroup: { ...record, roster: ['alice', 'bob'] },
      members: before.members,
    })
    expect(harness.delivery.status()?.roster).toEqual(keysOf(harness, ['alice', 'bob']))
    // Bob's grace runs by his key: once it is over, his leaf is asked to go.
    harness.comeBack('alice')
    harness.tick(LEAVE_GRACE_MS)
    expect(harness.sent).toEqual([['alice', harness.request(1, [], ['bob'])]])
  })

  test('checks the first commit after a restart against the stored group', async () => {
    const harness = await restarted(['alice', 'bob'])
    harness.comeBack('alice')
    harness.comeBack('bob')
    await harness.arrive('carol')
    const added = await harness.commit('alice')
    expect(harness.framesTo('carol')).toEqual([welcomeOf(added)])
    expect(storedView(harness).context).toEqual(harness.member('bob').state?.groupContext as never)
  })

  test('dissolves the stored group when nobody from the roster returns and a newcomer waits', async () => {
    const harness = await restarted(['alice', 'bob'])
    await harness.arrive('carol')
    harness.tick(LEAVE_GRACE_MS - 1)
    expect(harness.sent).toEqual([])
    harness.tick(1)
    expect(await harness.next('carol', 'found-request')).toEqual(FOUND_REQUEST)
    expect(harness.delivery.status()).toBeNull()
    expect(harness.store.groups.load()).toBeNull()
  })

  test('starts without a group when the stored state cannot be read', async () => {
    const before = await groupOf(['alice'])
    before.delivery.stop()
    const record = before.store.groups.load()
    if (!record) throw new Error('no group is stored')
    const damaged = createHarness({
      store: before.store,
      initialGroup: { ...record, state: 'AAAA' },
    })
    expect(damaged.delivery.status()).toBeNull()
    expect(damaged.store.groups.load()).toBeNull()
    expect(damaged.events).toEqual([
      expect.objectContaining({ event: 'error', where: 'delivery', error: expect.any(String) }),
    ])
    await damaged.arrive('dave')
    expect(damaged.framesTo('dave')).toEqual([FOUND_REQUEST])
  })
})

describe('the event log', () => {
  test('has the founding and each accepted commit with its new epoch, changes, size and time since the request', async () => {
    const harness = createHarness()
    await harness.arrive('alice')
    await harness.found('alice')
    await harness.arrive('bob')
    // The request to alice is out; she answers 250 ms later.
    harness.tick(250)
    await harness.commit('alice')
    await harness.arrive('carol')
    harness.leave('bob', 'quit')
    await harness.commit('alice')
    expect(harness.events).toEqual([
      { event: 'group_founded', founder: 'alice' },
      {
        event: 'commit_accepted',
        committer: 'alice',
        epoch: 1,
        adds: 1,
        removes: 0,
        size: 2,
        latencyMs: 250,
      },
      {
        event: 'commit_accepted',
        committer: 'alice',
        epoch: 2,
        adds: 1,
        removes: 0,
        size: 3,
        latencyMs: 0,
      },
    ])
  })

  test('has each refused commit with the epoch it claimed and its code, and refusals by name', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const mark = harness.events.length
    await harness.arrive('carol')
    await harness.member('carol').found()
    const own = await harness.prepare('carol', {})
    await harness.send('carol', { ...own, epoch: 1, adds: keysOf(harness, ['carol']) })
    await harness.delivery.keyPackage(harness.member('carol').binding, garbage(64))
    expect(harness.events.slice(mark)).toEqual([
      { event: 'commit_refused', committer: 'carol', epoch: 1, code: 'unrequested_commit' },
      { event: 'refused', code: 'bad_key_package', fatal: false, name: 'carol' },
    ])
  })
})
