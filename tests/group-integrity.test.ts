// A hostile member, on the real MLS library and a real socket, tries to freeze the room, slip a
// commit past the Delivery Service, plant a member nobody added, or break the group with a validly
// signed commit nobody can follow. Honest engine clients must keep talking through all of it.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { ClientState } from 'ts-mls'
import { createCommit, encodeMlsMessage } from 'ts-mls'
import { cipherSuite, membersOf, readKeyPackage } from '../shared/client/mls.ts'
import { decodeBase64url, encodeBase64url } from '../shared/protocol/base64url.ts'
import type { ErrorCode, ServerFrame } from '../shared/protocol/frames.ts'
import { type EngineClient, startEngineClient } from './support/engine.ts'
import { startTestServer, type TestServer } from './support/harness.ts'
import { type HostileMember, startHostileMember } from './support/hostile-member.ts'
import {
  commitWith,
  corruptingSuite,
  ghostWelcome,
  keyPackagesOf,
  leafEncryptionKey,
} from './support/hostile-mls.ts'
import { createMlsMember } from './support/mls-member.ts'
import { hasRedis, startRedis } from './support/redis.ts'

// Real servers and real MLS on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const COMMIT_TIMEOUT_MS = 5_000
type CommitRequest = Extract<ServerFrame, { type: 'commit-request' }>

/** `from` sends `text`; resolves with the milliseconds until `to` has read it. */
async function delivered(from: EngineClient, to: EngineClient, text: string): Promise<number> {
  const started = performance.now()
  await from.session.sendText(text)
  await to.waitFor('message', (event) => event.text === text)
  return performance.now() - started
}

async function refusedWith(member: HostileMember, code: ErrorCode) {
  return member.client.inbox.take('error', (frame) => frame.code === code)
}

/** Commit frames the hostile member saw logged, as `from@epoch`. */
function loggedCommits(member: HostileMember): string[] {
  return member.seen.flatMap((frame) =>
    frame.type === 'commit' ? [`${frame.from}@${frame.epoch}`] : [],
  )
}

/** Commit requests mallory received after the ones the test took from her inbox. */
function askedAfter(member: HostileMember): boolean {
  return member.client.inbox.frames.some((frame) => frame.type === 'commit-request')
}

function securityWarnings(client: EngineClient): string[] {
  return client.events.flatMap((event) =>
    event.type === 'warning' && event.code === 'group_integrity' ? [event.message] : [],
  )
}

function keyChanges(clients: EngineClient[]): unknown[] {
  return clients.flatMap((client) => client.events.filter((event) => event.type === 'key-change'))
}

describe('a hostile member cannot freeze the room', () => {
  test('garbage key packages and an unasked garbage commit are refused while alice and bob keep talking', async () => {
    await using server = await startTestServer()
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await using mallory = await startHostileMember(server, 'mallory')
    await mallory.joinGroup()
    // carol's arrival has the server ask alice for a commit; mallory answers it first, with junk.
    const carol = startEngineClient(server, 'carol', 'wss')
    const epoch = 2
    for (let round = 0; round < 5; round += 1) {
      mallory.client.send({ type: 'key-package', keyPackage: 'Z2FyYmFnZQ' })
      mallory.client.send({
        type: 'commit',
        epoch,
        commit: 'Z2FyYmFnZSBjb21taXQ',
        welcome: 'Z2FyYmFnZSB3ZWxjb21l',
        adds: [mallory.mls.binding.identityKey],
        removes: [mallory.mls.binding.identityKey],
      })
    }
    await refusedWith(mallory, 'bad_key_package')
    await refusedWith(mallory, 'unrequested_commit')
    await using joined = await carol
    const latencies: number[] = []
    for (let round = 0; round < 5; round += 1) {
      latencies.push(await delivered(alice, bob, `alice ${round}`))
      latencies.push(await delivered(bob, alice, `bob ${round}`))
    }
    await joined.waitFor('message', (event) => event.text === 'bob 4')
    console.log(
      `freeze attempt: honest sends delivered in ${latencies.map(Math.round).join(', ')} ms`,
    )
    expect(Math.max(...latencies)).toBeLessThan(COMMIT_TIMEOUT_MS)
    expect(loggedCommits(mallory)).toEqual(['alice@1', 'alice@2'])
  })
})

/** mallory founds and adds bob honestly; alice then arrives, and mallory is asked to add her. */
async function asMalloryIsAskedToAddAlice(server: TestServer) {
  const mallory = await startHostileMember(server, 'mallory')
  await mallory.found()
  const atFounding = mallory.mls.state as ClientState
  const bob = await startEngineClient(server, 'bob', 'tls', { waitForGroup: false })
  await mallory.commitHonestly()
  await bob.session.whenReady()
  const alice = await startEngineClient(server, 'alice', 'wss', { waitForGroup: false })
  const request = await mallory.nextRequest()
  expect(request).toMatchObject({ epoch: 1, add: [{ name: 'alice' }], remove: [] })
  return { mallory, bob, alice, request, atFounding }
}

interface Variant {
  readonly what: string
  readonly code: ErrorCode
  send(mallory: HostileMember, request: CommitRequest, atFounding: ClientState): Promise<void>
}

/** The identity keys of the KeyPackages a request relays: what a commit adding them claims. */
async function keysAsked(request: CommitRequest): Promise<string[]> {
  const added = request.add.map((item) => readKeyPackage(decodeBase64url(item.keyPackage)))
  return (await Promise.all(added)).map((peer) => peer.identityKey)
}

/** Sends `made` as the answer to the request to add alice, claiming just that. */
async function claimAddingAlice(
  mallory: HostileMember,
  request: CommitRequest,
  made: { commit: string; welcome?: string },
): Promise<void> {
  mallory.sendCommit(request, {
    commit: made.commit,
    welcome: made.welcome,
    adds: await keysAsked(request),
    removes: [],
  })
}

const aliceKeyPackage = async (request: CommitRequest) =>
  (await keyPackagesOf(request.add.map((item) => item.keyPackage)))[0] as never

const variants: Variant[] = [
  {
    what: 'bytes that are no MLS message',
    code: 'bad_commit',
    async send(mallory, request) {
      mallory.sendCommit(request, {
        commit: 'AAECAwQF',
        welcome: 'AAEC',
        adds: await keysAsked(request),
        removes: [],
      })
    },
  },
  {
    what: 'a commit for another group',
    code: 'bad_commit',
    async send(mallory, request) {
      const copy = await createMlsMember('mallory', mallory.mls.identity)
      await copy.found()
      const made = await copy.commit({ add: [request.add[0]?.keyPackage ?? ''] })
      await claimAddingAlice(mallory, request, made)
    },
  },
  {
    what: 'a commit made at an earlier epoch',
    code: 'bad_commit',
    async send(mallory, request, atFounding) {
      const made = await commitWith(atFounding, { add: [await aliceKeyPackage(request)] })
      await claimAddingAlice(mallory, request, made)
    },
  },
  {
    what: 'a commit for the next epoch',
    code: 'stale_epoch',
    async send(mallory, request) {
      const made = await commitWith(mallory.mls.state as ClientState, {
        add: [await aliceKeyPackage(request)],
      })
      mallory.client.send({
        type: 'commit',
        epoch: request.epoch + 1,
        commit: made.commit,
        welcome: made.welcome,
        adds: await keysAsked(request),
        removes: [],
      })
    },
  },
  {
    what: 'a commit that also removes bob without claiming it',
    code: 'commit_mismatch',
    async send(mallory, request) {
      const state = mallory.mls.state as ClientState
      const bobLeaf = membersOf(state).find((leaf) => leaf.name === 'bob')?.leafIndex as number
      const made = await commitWith(state, {
        add: [await aliceKeyPackage(request)],
        removeLeaves: [bobLeaf],
      })
      await claimAddingAlice(mallory, request, made)
    },
  },
  {
    what: 'a commit signed with another key than mallory’s',
    code: 'bad_signature',
    async send(mallory, request) {
      const other = await createMlsMember('mallory')
      const state = {
        ...(mallory.mls.state as ClientState),
        signaturePrivateKey: other.keys.signKey,
      }
      const made = await commitWith(state, { add: [await aliceKeyPackage(request)] })
      await claimAddingAlice(mallory, request, made)
    },
  },
  {
    what: 'a commit sent as if from bob’s leaf',
    code: 'wrong_leaf',
    async send(mallory, request) {
      const state = mallory.mls.state as ClientState
      const bobLeaf = membersOf(state).find((leaf) => leaf.name === 'bob')?.leafIndex as number
      const asBob = { ...state, privatePath: { ...state.privatePath, leafIndex: bobLeaf } }
      const made = await commitWith(asBob as ClientState, { add: [await aliceKeyPackage(request)] })
      await claimAddingAlice(mallory, request, made)
    },
  },
  {
    // Claims name leaves by key: the leaf it adds carries no key the claims name.
    what: 'a commit that adds "alice" with a key mallory made',
    code: 'commit_mismatch',
    async send(mallory, request) {
      const fake = await createMlsMember('alice')
      const [keyPackage] = await keyPackagesOf([await fake.keyPackage()])
      const made = await commitWith(mallory.mls.state as ClientState, {
        add: [keyPackage as never],
      })
      await claimAddingAlice(mallory, request, made)
    },
  },
  {
    what: 'a commit sent as a PrivateMessage the server cannot check',
    code: 'bad_commit',
    async send(mallory, request) {
      const result = await createCommit(
        { state: mallory.mls.state as ClientState, cipherSuite: await cipherSuite() },
        {
          extraProposals: [
            { proposalType: 'add', add: { keyPackage: await aliceKeyPackage(request) } },
          ],
          ratchetTreeExtension: true,
        },
      )
      const welcome =
        result.welcome &&
        encodeMlsMessage({ welcome: result.welcome, wireformat: 'mls_welcome', version: 'mls10' })
      mallory.sendCommit(request, {
        commit: encodeBase64url(encodeMlsMessage(result.commit)),
        welcome: welcome && encodeBase64url(welcome),
        adds: await keysAsked(request),
        removes: [],
      })
    },
  },
]

describe('the Delivery Service checks every commit before it keeps one', () => {
  for (const variant of variants) {
    test(`refuses ${variant.what} with ${variant.code}, and the room goes on without it`, async () => {
      await using server = await startTestServer()
      const { mallory, bob, alice, request, atFounding } = await asMalloryIsAskedToAddAlice(server)
      await using _mallory = mallory
      await using _bob = bob
      await using _alice = alice
      await variant.send(mallory, request, atFounding)
      expect(await refusedWith(mallory, variant.code)).toMatchObject({ fatal: false })
      // Passed over at once: bob adds alice, and the refused commit never reached anyone.
      await alice.session.whenReady()
      expect(await delivered(alice, bob, 'in without mallory')).toBeLessThan(COMMIT_TIMEOUT_MS)
      expect(loggedCommits(mallory)).toEqual(['mallory@0', 'bob@1'])
      expect(securityWarnings(alice)).toEqual([])
    })
  }

  const keyPackages: Array<[string, ErrorCode, (mallory: HostileMember) => Promise<string>]> = [
    ['an oversize KeyPackage', 'bad_frame', async () => 'A'.repeat(5463)],
    ['an undecodable KeyPackage', 'bad_key_package', async () => 'AAECAwQFBgc'],
    [
      'a KeyPackage in another member’s name',
      'bad_key_package',
      async (mallory) => (await createMlsMember('bob', mallory.mls.identity)).keyPackage(),
    ],
    [
      'a KeyPackage with another key than mallory’s',
      'key_mismatch',
      async () => (await createMlsMember('mallory')).keyPackage(),
    ],
  ]
  for (const [what, code, make] of keyPackages) {
    test(`refuses ${what} with ${code}`, async () => {
      await using server = await startTestServer()
      await using alice = await startEngineClient(server, 'alice', 'wss')
      await using mallory = await startHostileMember(server, 'mallory')
      mallory.client.send({ type: 'key-package', keyPackage: await make(mallory) })
      expect(await refusedWith(mallory, code)).toMatchObject({ fatal: false })
      // Nothing was queued for alice to commit: the next newcomer is the next commit.
      await using bob = await startEngineClient(server, 'bob', 'tls')
      expect(await delivered(alice, bob, 'hello bob')).toBeLessThan(COMMIT_TIMEOUT_MS)
      expect(loggedCommits(mallory)).toEqual(['alice@0'])
    })
  }
})

describe('clients refuse a member nobody added', () => {
  test('a Welcome into a copy of the group with a ghost "bob" is refused; alice is added cleanly and the real bob is no key change', async () => {
    await using server = await startTestServer()
    await using mallory = await startHostileMember(server, 'mallory')
    await mallory.found()
    await using carol = await startEngineClient(server, 'carol', 'tls', { waitForGroup: false })
    await mallory.commitHonestly()
    await carol.session.whenReady()
    await using alice = await startEngineClient(server, 'alice', 'wss', { waitForGroup: false })
    const request = await mallory.nextRequest()
    // The commit is honest, so the server takes it; the Welcome beside it is a forgery.
    const honest = await mallory.mls.commit({ add: request.add.map((item) => item.keyPackage) })
    const groupId = (mallory.mls.state as ClientState).groupContext.groupId
    const forged = await ghostWelcome(mallory.mls, groupId, request.add[0]?.keyPackage ?? '', 'bob')
    mallory.sendCommit(request, {
      commit: honest.commit,
      welcome: forged,
      adds: [alice.session.identityKey],
      removes: [],
    })

    const warning = await alice.waitFor('warning', (event) => event.code === 'group_integrity')
    expect(warning.message).toContain('bob')
    // carol, not mallory, adds alice again (and removes mallory); alice's group is the room's.
    await alice.session.whenReady()
    expect(await delivered(carol, alice, 'welcome for real')).toBeLessThan(COMMIT_TIMEOUT_MS)
    expect(
      (await alice.session.members())
        .filter((member) => member.inGroup)
        .map((member) => member.name)
        .sort(),
    ).toEqual(['alice', 'carol'])
    expect(await alice.session.roomCode()).toBe(await carol.session.roomCode())

    await using bob = await startEngineClient(server, 'bob', 'tls')
    expect(await delivered(bob, alice, 'the real bob')).toBeLessThan(COMMIT_TIMEOUT_MS)
    expect(keyChanges([alice, carol, bob])).toEqual([])
    expect(askedAfter(mallory)).toBe(false)
  })
})

/**
 * mallory founds and adds alice, bob and dave honestly; dave quits and mallory must remove him.
 * `at` says which server each of them uses (one server, or two instances sharing Redis).
 */
async function asMalloryRemovesDave(at: (name: string) => TestServer) {
  const mallory = await startHostileMember(at('mallory'), 'mallory')
  await mallory.found()
  const clients: EngineClient[] = []
  for (const [name, kind] of [
    ['alice', 'wss'],
    ['bob', 'tls'],
    ['dave', 'wss'],
  ] as const) {
    const client = await startEngineClient(at(name), name, kind, { waitForGroup: false })
    await mallory.commitHonestly()
    await client.session.whenReady()
    clients.push(client)
  }
  const [alice, bob, dave] = clients as [EngineClient, EngineClient, EngineClient]
  await dave.session.leave()
  const request = await mallory.nextRequest()
  const daveKey = dave.session.identityKey
  expect(request).toMatchObject({ add: [], remove: [daveKey] })
  return { mallory, alice, bob, request, daveKey }
}

/** mallory's commit removing dave, validly signed, with garbage path secrets for `victims`. */
async function removeDaveGarbled(mallory: HostileMember, victims: string[]) {
  const state = mallory.mls.state as ClientState
  const keys = victims.map((name) => leafEncryptionKey(state, name).toHex())
  const suite = await corruptingSuite((recipient) => keys.includes(recipient.toHex()))
  const daveLeaf = membersOf(state).find((leaf) => leaf.name === 'dave')?.leafIndex as number
  return commitWith(state, { removeLeaves: [daveLeaf] }, suite)
}

describe('a commit nobody can follow does not stop the room', () => {
  test('path secrets garbled for bob alone: bob reports it, alice removes mallory and adds bob back', async () => {
    await using server = await startTestServer()
    const { mallory, alice, bob, request, daveKey } = await asMalloryRemovesDave(() => server)
    await using _m = mallory
    await using _a = alice
    await using _b = bob
    const made = await removeDaveGarbled(mallory, ['bob'])
    const attacked = performance.now()
    mallory.sendCommit(request, { commit: made.commit, adds: [], removes: [daveKey] })

    expect(await bob.waitFor('warning', (event) => event.code === 'group_integrity')).toBeDefined()
    const removal = await mallory.client.inbox.take('commit', (frame) =>
      frame.removes.includes(mallory.mls.binding.identityKey),
    )
    expect(removal.from).toBe('alice')
    await bob.session.whenReady()
    await alice.waitFor(
      'membership',
      (event) => event.members.includes('bob') && !event.members.includes('mallory'),
    )
    await delivered(alice, bob, 'bob is back')
    const recovered = performance.now() - attacked
    console.log(
      `garbled path secrets (one member): first honest message ${Math.round(recovered)} ms after the attack`,
    )
    expect(recovered).toBeLessThan(COMMIT_TIMEOUT_MS)
    expect(securityWarnings(alice)).toEqual([])
    expect(askedAfter(mallory)).toBe(false)
  })

  test('path secrets garbled for everyone: the honest members start a new group within the commit timeout', async () => {
    await using server = await startTestServer()
    const { mallory, alice, bob, request, daveKey } = await asMalloryRemovesDave(() => server)
    await using _m = mallory
    await using _a = alice
    await using _b = bob
    const made = await removeDaveGarbled(mallory, ['alice', 'bob'])
    const attacked = performance.now()
    mallory.sendCommit(request, { commit: made.commit, adds: [], removes: [daveKey] })

    await alice.waitFor('warning', (event) => event.code === 'group_integrity')
    await bob.waitFor('warning', (event) => event.code === 'group_integrity')
    await alice.session.whenReady()
    await bob.session.whenReady()
    await delivered(alice, bob, 'after the storm')
    const recovered = performance.now() - attacked
    console.log(
      `garbled path secrets (everyone): first honest message ${Math.round(recovered)} ms after the attack`,
    )
    expect(recovered).toBeLessThan(COMMIT_TIMEOUT_MS)
    expect(await alice.session.roomCode()).toBe(await bob.session.roomCode())
    // mallory is not asked again: the newcomer after her is added by alice or bob.
    await using erin = await startEngineClient(server, 'erin', 'tls')
    expect(await delivered(erin, alice, 'hi all')).toBeLessThan(COMMIT_TIMEOUT_MS)
    expect(askedAfter(mallory)).toBe(false)
  })
})

describe('rejoin requests are limited', () => {
  test('a member spamming KeyPackages forces no more commits than its rejoin budget', async () => {
    await using server = await startTestServer()
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using mallory = await startHostileMember(server, 'mallory')
    await mallory.joinGroup()
    const started = performance.now()
    // 50 over 3 s: within the connection's frame rate, so every one reaches the Delivery Service.
    for (let sent = 0; sent < 50; sent += 1) {
      mallory.client.send({ type: 'key-package', keyPackage: await mallory.mls.keyPackage() })
      await Bun.sleep(60)
    }
    // Every refusal has come back once alice's message, sent after the last, arrives.
    await using bob = await startEngineClient(server, 'bob', 'tls')
    await delivered(alice, bob, 'still fine')
    const seconds = (performance.now() - started) / 1000
    const refused = mallory.seen.filter(
      (frame) => frame.type === 'error' && frame.code === 'rejoin_limited',
    ).length
    const commits =
      loggedCommits(mallory).filter((commit) => commit.startsWith('alice@')).length - 2
    console.log(
      `KeyPackage spam: 50 sent in ${seconds.toFixed(1)} s, ${refused} refused, ${commits} commits forced (${(commits / seconds).toFixed(1)}/s)`,
    )
    // The join took one of the five, so at most four more can make a commit.
    expect(commits).toBeLessThanOrEqual(4)
    expect(refused).toBeGreaterThanOrEqual(46)
  })
})

describe.skipIf(!hasRedis())('the same checks with two instances sharing Redis', () => {
  test('the leader refuses a commit signed with another key from a member on the other instance', async () => {
    await using redis = await startRedis()
    await using one = await startTestServer({ redis: { url: redis.url } })
    await using two = await startTestServer({ redis: { url: redis.url } })
    const follower = one.cluster?.leads() ? two : one
    await using mallory = await startHostileMember(follower, 'mallory')
    await mallory.found()
    const other = follower === one ? two : one
    await using bob = await startEngineClient(other, 'bob', 'tls', { waitForGroup: false })
    await mallory.commitHonestly()
    await bob.session.whenReady()
    await using alice = await startEngineClient(other, 'alice', 'wss', { waitForGroup: false })
    const request = await mallory.nextRequest()
    const forger = await createMlsMember('mallory')
    const state = {
      ...(mallory.mls.state as ClientState),
      signaturePrivateKey: forger.keys.signKey,
    }
    const made = await commitWith(state, { add: [await aliceKeyPackage(request)] })
    await claimAddingAlice(mallory, request, made)
    await refusedWith(mallory, 'bad_signature')
    await alice.session.whenReady()
    expect(await delivered(alice, bob, 'across instances')).toBeLessThan(COMMIT_TIMEOUT_MS)
    expect(loggedCommits(mallory)).toEqual(['mallory@0', 'bob@1'])
  })

  test('a member on one instance that cannot follow a commit gets the committer passed over by the leader', async () => {
    await using redis = await startRedis()
    await using one = await startTestServer({ redis: { url: redis.url } })
    await using two = await startTestServer({ redis: { url: redis.url } })
    // mallory and bob on one instance, alice and dave on the other.
    const { mallory, alice, bob, request, daveKey } = await asMalloryRemovesDave((name) =>
      name === 'alice' || name === 'dave' ? two : one,
    )
    await using _m = mallory
    await using _a = alice
    await using _b = bob
    const made = await removeDaveGarbled(mallory, ['bob'])
    mallory.sendCommit(request, { commit: made.commit, adds: [], removes: [daveKey] })
    const removal = await mallory.client.inbox.take('commit', (frame) =>
      frame.removes.includes(mallory.mls.binding.identityKey),
    )
    expect(removal.from).toBe('alice')
    await bob.session.whenReady()
    expect(await delivered(alice, bob, 'over two instances')).toBeLessThan(COMMIT_TIMEOUT_MS)
  })
})
