import { afterEach, describe, expect, test } from 'bun:test'
import type { ErrorCode, LeaveReason, ServerFrame } from '../../../shared/protocol/frames.ts'
import { openSqliteStore, type SqliteStore } from '../store/sqlite-store.ts'
import { createDelivery, type Delivery } from './delivery.ts'
import type { CommitInput, GroupRecord } from './ports.ts'

type FrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>

const LEAVE_GRACE_MS = 40
const COMMIT_TIMEOUT_MS = 30
const NOW = 1_700_000_000_000
/** Timers may fire a little early on some clocks; elapsed-time checks allow this much. */
const TIMER_SLACK_MS = 5

interface Harness {
  readonly delivery: Delivery
  readonly store: SqliteStore
  /** Names online here, earliest admitted first; what `online()` returns. */
  readonly online: string[]
  /** Every `sendTo` call as `[name, frame]`. */
  readonly sent: Array<[string, ServerFrame]>
  readonly broadcasts: string[]
  framesTo(name: string): ServerFrame[]
  /** The first frame of `type` sent to `name` at or after index `from`, now or when it comes. */
  next<T extends ServerFrame['type']>(name: string, type: T, from?: number): Promise<FrameOf<T>>
  /** Comes online and asks to be added, as a newcomer does. */
  arrive(name: string, keyPackage?: string): void
  /** Comes online without asking to be added, as a member with its state does. */
  comeBack(name: string): void
  leave(name: string, reason: LeaveReason): void
}

const deliveries: Delivery[] = []
const stores: SqliteStore[] = []

afterEach(() => {
  for (const delivery of deliveries.splice(0)) delivery.stop()
  for (const store of stores.splice(0)) store.close()
})

function createHarness(
  options: { store?: SqliteStore; initialGroup?: GroupRecord | null } = {},
): Harness {
  const store = options.store ?? openSqliteStore(':memory:', 1000)
  if (!options.store) stores.push(store)
  const online: string[] = []
  const sent: Array<[string, ServerFrame]> = []
  const broadcasts: string[] = []
  const waiters = new Set<() => void>()

  const delivery = createDelivery({
    store: store.groups,
    initialGroup: options.initialGroup ?? null,
    leaveGraceMs: LEAVE_GRACE_MS,
    commitTimeoutMs: COMMIT_TIMEOUT_MS,
    now: () => NOW,
    sendTo(name, frame) {
      sent.push([name, frame])
      for (const waiter of [...waiters]) waiter()
    },
    online: () => [...online],
    broadcast: (entry) => broadcasts.push(entry.text),
  })
  deliveries.push(delivery)

  function framesTo(name: string): ServerFrame[] {
    return sent.filter(([to]) => to === name).map(([, frame]) => frame)
  }

  return {
    delivery,
    store,
    online,
    sent,
    broadcasts,
    framesTo,
    next<T extends ServerFrame['type']>(name: string, type: T, from = 0) {
      const { promise, resolve } = Promise.withResolvers<FrameOf<T>>()
      const check = () => {
        const found = framesTo(name)
          .slice(from)
          .find((frame): frame is FrameOf<T> => frame.type === type)
        if (!found) return
        waiters.delete(check)
        resolve(found)
      }
      waiters.add(check)
      check()
      return promise
    },
    arrive(name, keyPackage = `kp-${name}`) {
      online.push(name)
      delivery.memberOnline(name)
      delivery.keyPackage(name, keyPackage)
    },
    comeBack(name) {
      online.push(name)
      delivery.memberOnline(name)
    },
    leave(name, reason) {
      online.splice(online.indexOf(name), 1)
      delivery.memberOffline(name, reason)
    },
  }
}

function commitAt(epoch: number, adds: string[] = [], removes: string[] = []): CommitInput {
  const base = { epoch, commit: `commit-${epoch}`, adds, removes }
  return adds.length > 0 ? { ...base, welcome: `welcome-${epoch}` } : base
}

/** A group founded by the first name, with the others added one commit each, all online. */
async function groupOf(names: [string, ...string[]]): Promise<Harness> {
  const harness = createHarness()
  const [founder, ...others] = names
  harness.arrive(founder)
  await harness.delivery.groupFounded(founder, 'group-1')
  for (const [index, name] of others.entries()) {
    harness.arrive(name)
    await harness.delivery.commit(founder, commitAt(index, [name]))
  }
  expect(harness.delivery.status()).toEqual({
    groupId: 'group-1',
    epoch: others.length,
    roster: names,
  })
  return harness
}

/** A non-fatal error frame with any message. */
function refusal(code: ErrorCode): FrameOf<'error'> {
  return { type: 'error', code, message: expect.any(String), fatal: false }
}

async function logged(harness: Harness): Promise<unknown[]> {
  const entries = await harness.store.log.readAfter(0, 10)
  return entries.map((entry) => JSON.parse(entry.text))
}

describe('founding', () => {
  test('asks the first member who sends a key package in a room without a group to found one', () => {
    const harness = createHarness()
    harness.arrive('alice')
    expect(harness.sent).toEqual([['alice', { type: 'found-request' }]])
    expect(harness.delivery.status()).toBeNull()
  })

  test('takes the group the asked member founded as epoch 0 with that member alone', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    await harness.delivery.groupFounded('alice', 'group-1')
    const founded = { groupId: 'group-1', epoch: 0, roster: ['alice'] }
    expect(harness.delivery.status()).toEqual(founded)
    expect(harness.store.groups.load()).toEqual(founded)
    expect(harness.sent).toEqual([['alice', { type: 'found-request' }]])
  })

  test('refuses a founding from a member nobody asked', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    harness.arrive('bob')
    await harness.delivery.groupFounded('bob', 'group-b')
    expect(harness.framesTo('bob')).toEqual([refusal('unrequested_commit')])
    expect(harness.delivery.status()).toBeNull()
    expect(harness.store.groups.load()).toBeNull()

    await harness.delivery.groupFounded('alice', 'group-a')
    await harness.delivery.groupFounded('alice', 'group-again')
    expect(harness.framesTo('alice')).toEqual([
      { type: 'found-request' },
      {
        type: 'commit-request',
        epoch: 0,
        add: [{ name: 'bob', keyPackage: 'kp-bob' }],
        remove: [],
      },
      refusal('unrequested_commit'),
    ])
    expect(harness.delivery.status()?.groupId).toBe('group-a')
  })

  test('passes a founder that does not answer over for the next newcomer', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    harness.arrive('bob')
    const started = performance.now()
    expect(await harness.next('bob', 'found-request')).toEqual({ type: 'found-request' })
    expect(performance.now() - started).toBeGreaterThanOrEqual(COMMIT_TIMEOUT_MS - TIMER_SLACK_MS)

    await harness.delivery.groupFounded('bob', 'group-b')
    expect(harness.delivery.status()).toEqual({ groupId: 'group-b', epoch: 0, roster: ['bob'] })
    // Alice still waits to be added, and the new group's member is asked to add her.
    expect(harness.framesTo('bob').at(-1)).toEqual({
      type: 'commit-request',
      epoch: 0,
      add: [{ name: 'alice', keyPackage: 'kp-alice' }],
      remove: [],
    })
  })

  test('asks a lone founder that did not answer again', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    expect(await harness.next('alice', 'found-request', 1)).toEqual({ type: 'found-request' })
  })

  test('refuses a founding another instance beat and takes the stored group instead', async () => {
    const harness = createHarness()
    harness.store.groups.found({ groupId: 'elsewhere', epoch: 4, roster: ['zed'] })
    harness.arrive('alice')
    await harness.delivery.groupFounded('alice', 'group-a')
    expect(harness.framesTo('alice')).toEqual([{ type: 'found-request' }, refusal('stale_epoch')])
    expect(harness.delivery.status()).toEqual({ groupId: 'elsewhere', epoch: 4, roster: ['zed'] })
  })
})

describe('commit requests', () => {
  test("asks the first online roster member to commit a newcomer's key package", async () => {
    const harness = await groupOf(['alice', 'bob'])
    const marks = { alice: harness.framesTo('alice').length, bob: harness.framesTo('bob').length }
    harness.arrive('carol')
    expect(harness.framesTo('alice').slice(marks.alice)).toEqual([
      {
        type: 'commit-request',
        epoch: 1,
        add: [{ name: 'carol', keyPackage: 'kp-carol' }],
        remove: [],
      },
    ])
    expect(harness.framesTo('bob').slice(marks.bob)).toEqual([])
    expect(harness.framesTo('carol')).toEqual([])
  })

  test('batches newcomers who arrive while a request is out into the next request', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    await harness.delivery.groupFounded('alice', 'group-1')
    harness.arrive('bob')
    harness.arrive('carol')
    harness.arrive('dave')
    expect(harness.framesTo('alice')).toEqual([
      { type: 'found-request' },
      {
        type: 'commit-request',
        epoch: 0,
        add: [{ name: 'bob', keyPackage: 'kp-bob' }],
        remove: [],
      },
    ])

    await harness.delivery.commit('alice', commitAt(0, ['bob']))
    expect(harness.framesTo('alice').slice(2)).toEqual([
      {
        type: 'commit-request',
        epoch: 1,
        add: [
          { name: 'carol', keyPackage: 'kp-carol' },
          { name: 'dave', keyPackage: 'kp-dave' },
        ],
        remove: [],
      },
    ])
    await harness.delivery.commit('alice', commitAt(1, ['carol', 'dave']))
    expect(harness.delivery.status()?.roster).toEqual(['alice', 'bob', 'carol', 'dave'])
    for (const name of ['carol', 'dave']) {
      expect(harness.framesTo(name)).toEqual([
        { type: 'welcome', from: 'alice', seq: 2, welcome: 'welcome-1' },
      ])
    }
  })

  test('logs and broadcasts an accepted commit, welcomes each added member and moves the epoch on', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    await harness.delivery.groupFounded('alice', 'group-1')
    harness.arrive('bob')
    await harness.delivery.commit('alice', commitAt(0, ['bob']))
    harness.arrive('carol')
    harness.arrive('dave')
    harness.leave('bob', 'quit')
    // The request for carol was out before bob quit; his removal and dave come next.
    await harness.delivery.commit('alice', commitAt(1, ['carol']))
    expect(harness.framesTo('alice').at(-1)).toEqual({
      type: 'commit-request',
      epoch: 2,
      add: [{ name: 'dave', keyPackage: 'kp-dave' }],
      remove: ['bob'],
    })
    await harness.delivery.commit('alice', commitAt(2, ['dave'], ['bob']))

    const expected = [
      {
        type: 'commit',
        from: 'alice',
        at: NOW,
        epoch: 0,
        commit: 'commit-0',
        adds: ['bob'],
        removes: [],
        seq: 1,
      },
      {
        type: 'commit',
        from: 'alice',
        at: NOW,
        epoch: 1,
        commit: 'commit-1',
        adds: ['carol'],
        removes: [],
        seq: 2,
      },
      {
        type: 'commit',
        from: 'alice',
        at: NOW,
        epoch: 2,
        commit: 'commit-2',
        adds: ['dave'],
        removes: ['bob'],
        seq: 3,
      },
    ]
    expect(harness.broadcasts.map((text) => JSON.parse(text))).toEqual(expected)
    expect((await harness.store.log.readAfter(0, 10)).map((entry) => entry.text)).toEqual(
      harness.broadcasts,
    )
    expect(harness.framesTo('bob')).toEqual([
      { type: 'welcome', from: 'alice', seq: 1, welcome: 'welcome-0' },
    ])
    expect(harness.framesTo('carol')).toEqual([
      { type: 'welcome', from: 'alice', seq: 2, welcome: 'welcome-1' },
    ])
    expect(harness.framesTo('dave')).toEqual([
      { type: 'welcome', from: 'alice', seq: 3, welcome: 'welcome-2' },
    ])
    const status = { groupId: 'group-1', epoch: 3, roster: ['alice', 'carol', 'dave'] }
    expect(harness.delivery.status()).toEqual(status)
    expect(harness.store.groups.load()).toEqual(status)
  })

  test('accepts one commit per epoch when the same member commits twice', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    await harness.delivery.groupFounded('alice', 'group-1')
    harness.arrive('bob')
    await harness.delivery.commit('alice', commitAt(0, ['bob']))
    await harness.delivery.commit('alice', commitAt(0, ['bob']))
    expect(harness.framesTo('alice').at(-1)).toEqual(refusal('stale_epoch'))
    expect(harness.broadcasts).toHaveLength(1)
    expect(await logged(harness)).toHaveLength(1)
    expect(harness.framesTo('bob')).toHaveLength(1)
    expect(harness.delivery.status()?.epoch).toBe(1)
  })

  test('accepts one commit per epoch when two members commit at once', async () => {
    const harness = await groupOf(['alice', 'bob'])
    harness.arrive('carol')
    const bobMark = harness.framesTo('bob').length
    await Promise.all([
      harness.delivery.commit('alice', commitAt(1, ['carol'])),
      harness.delivery.commit('bob', { ...commitAt(1, ['carol']), commit: 'commit-by-bob' }),
    ])
    expect(harness.framesTo('bob').slice(bobMark)).toEqual([
      {
        type: 'error',
        code: 'stale_epoch',
        message: 'another commit won this epoch',
        fatal: false,
      },
    ])
    expect(await logged(harness)).toEqual([
      expect.objectContaining({ epoch: 0, adds: ['bob'] }),
      expect.objectContaining({ epoch: 1, from: 'alice', commit: 'commit-1', seq: 2 }),
    ])
    expect(harness.broadcasts).toHaveLength(2)
    expect(harness.framesTo('carol')).toEqual([
      { type: 'welcome', from: 'alice', seq: 2, welcome: 'welcome-1' },
    ])
    expect(harness.delivery.status()).toEqual({
      groupId: 'group-1',
      epoch: 2,
      roster: ['alice', 'bob', 'carol'],
    })
  })

  test('refuses a commit that adds someone nobody asked to add', async () => {
    const harness = await groupOf(['alice', 'bob'])
    harness.arrive('carol')
    await harness.delivery.commit('alice', commitAt(1, ['carol', 'mallory']))
    expect(harness.framesTo('alice').at(-1)).toEqual(refusal('unrequested_commit'))
    expect(harness.framesTo('mallory')).toEqual([])
    expect(harness.delivery.status()?.epoch).toBe(1)
    expect(await logged(harness)).toHaveLength(1)
  })

  test('refuses a commit that removes someone who is not to be removed', async () => {
    const harness = await groupOf(['alice', 'bob'])
    harness.arrive('carol')
    await harness.delivery.commit('alice', commitAt(1, ['carol'], ['bob']))
    expect(harness.framesTo('alice').at(-1)).toEqual(refusal('unrequested_commit'))
    expect(harness.delivery.status()?.roster).toEqual(['alice', 'bob'])
  })

  test('refuses an empty commit', async () => {
    const harness = await groupOf(['alice', 'bob'])
    harness.arrive('carol')
    await harness.delivery.commit('alice', commitAt(1))
    expect(harness.framesTo('alice').at(-1)).toEqual(refusal('unrequested_commit'))
    expect(harness.delivery.status()?.epoch).toBe(1)
  })

  test('refuses a commit from someone outside the group', async () => {
    const harness = await groupOf(['alice', 'bob'])
    harness.arrive('carol')
    await harness.delivery.commit('carol', commitAt(1, ['carol']))
    expect(harness.framesTo('carol')).toEqual([refusal('not_in_group')])
    expect(harness.delivery.status()?.epoch).toBe(1)
  })

  test('refuses a rejoin commit that keeps the old leaf and accepts one that removes it', async () => {
    const harness = await groupOf(['alice', 'bob'])
    // Bob lost his state and asks to be added afresh.
    harness.delivery.keyPackage('bob', 'kp-bob-2')
    expect(harness.framesTo('alice').at(-1)).toEqual({
      type: 'commit-request',
      epoch: 1,
      add: [{ name: 'bob', keyPackage: 'kp-bob-2' }],
      remove: ['bob'],
    })

    await harness.delivery.commit('alice', commitAt(1, ['bob']))
    expect(harness.framesTo('alice').at(-1)).toEqual(refusal('unrequested_commit'))
    expect(harness.delivery.status()?.epoch).toBe(1)

    await harness.delivery.commit('alice', commitAt(1, ['bob'], ['bob']))
    expect(harness.delivery.status()).toEqual({
      groupId: 'group-1',
      epoch: 2,
      roster: ['alice', 'bob'],
    })
    expect(harness.framesTo('bob').at(-1)).toEqual({
      type: 'welcome',
      from: 'alice',
      seq: 2,
      welcome: 'welcome-1',
    })
  })

  test('tells a newcomer the committer left out that it was not added', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    await harness.delivery.groupFounded('alice', 'group-1')
    harness.arrive('bob')
    harness.arrive('carol')
    harness.arrive('dave')
    await harness.delivery.commit('alice', commitAt(0, ['bob']))
    await harness.delivery.commit('alice', commitAt(1, ['carol']))
    expect(harness.framesTo('dave')).toEqual([refusal('not_in_group')])
    expect(harness.framesTo('carol')).toEqual([
      { type: 'welcome', from: 'alice', seq: 2, welcome: 'welcome-1' },
    ])
    // Dave is no longer pending: nobody is asked to add him.
    await Bun.sleep(COMMIT_TIMEOUT_MS * 3)
    expect(harness.framesTo('alice').at(-1)).toEqual({
      type: 'commit-request',
      epoch: 1,
      add: [
        { name: 'carol', keyPackage: 'kp-carol' },
        { name: 'dave', keyPackage: 'kp-dave' },
      ],
      remove: [],
    })
    expect(harness.framesTo('bob')).toHaveLength(1)
  })
})

describe('committer timeout', () => {
  test('asks the next online roster member when the committer does not answer in time', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const bobMark = harness.framesTo('bob').length
    const started = performance.now()
    harness.arrive('carol')
    const request: FrameOf<'commit-request'> = {
      type: 'commit-request',
      epoch: 1,
      add: [{ name: 'carol', keyPackage: 'kp-carol' }],
      remove: [],
    }
    expect(harness.framesTo('alice').at(-1)).toEqual(request)
    expect(await harness.next('bob', 'commit-request', bobMark)).toEqual(request)
    expect(performance.now() - started).toBeGreaterThanOrEqual(COMMIT_TIMEOUT_MS - TIMER_SLACK_MS)

    await harness.delivery.commit('bob', commitAt(1, ['carol']))
    expect(harness.delivery.status()?.roster).toEqual(['alice', 'bob', 'carol'])
    expect(harness.framesTo('carol')).toEqual([
      { type: 'welcome', from: 'bob', seq: 2, welcome: 'welcome-1' },
    ])
  })

  test('asks the only candidate again when it let the request time out', async () => {
    const harness = createHarness()
    harness.arrive('alice')
    await harness.delivery.groupFounded('alice', 'group-1')
    harness.arrive('bob')
    const request: FrameOf<'commit-request'> = {
      type: 'commit-request',
      epoch: 0,
      add: [{ name: 'bob', keyPackage: 'kp-bob' }],
      remove: [],
    }
    expect(harness.framesTo('alice').at(-1)).toEqual(request)
    expect(await harness.next('alice', 'commit-request', 2)).toEqual(request)
    expect(harness.framesTo('bob')).toEqual([])
  })

  test('moves the request on at once when the asked committer goes offline', async () => {
    const harness = await groupOf(['alice', 'bob', 'carol'])
    const bobMark = harness.framesTo('bob').length
    harness.arrive('dave')
    const request: FrameOf<'commit-request'> = {
      type: 'commit-request',
      epoch: 2,
      add: [{ name: 'dave', keyPackage: 'kp-dave' }],
      remove: [],
    }
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
    expect(harness.framesTo('alice').slice(mark)).toEqual([
      { type: 'commit-request', epoch: 1, add: [], remove: ['bob'] },
    ])
    await harness.delivery.commit('alice', commitAt(1, [], ['bob']))
    expect(harness.delivery.status()?.roster).toEqual(['alice'])
  })

  test('asks for a removal only after the grace period after a disconnect', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const mark = harness.framesTo('alice').length
    const started = performance.now()
    harness.leave('bob', 'disconnect')
    expect(harness.framesTo('alice').slice(mark)).toEqual([])
    expect(await harness.next('alice', 'commit-request', mark)).toEqual({
      type: 'commit-request',
      epoch: 1,
      add: [],
      remove: ['bob'],
    })
    expect(performance.now() - started).toBeGreaterThanOrEqual(LEAVE_GRACE_MS - TIMER_SLACK_MS)
  })

  test('keeps a member who comes back within the grace period', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const mark = harness.sent.length
    harness.leave('bob', 'disconnect')
    await Bun.sleep(LEAVE_GRACE_MS / 4)
    harness.comeBack('bob')
    await Bun.sleep(LEAVE_GRACE_MS * 3)
    expect(harness.sent.slice(mark)).toEqual([])
    expect(harness.delivery.status()?.roster).toEqual(['alice', 'bob'])
  })

  test('ignores the leaves of a shutdown or a replaced connection', async () => {
    const harness = await groupOf(['alice', 'bob'])
    const mark = harness.sent.length
    harness.delivery.memberOffline('bob', 'shutdown')
    harness.delivery.memberOffline('bob', 'replaced')
    await Bun.sleep(LEAVE_GRACE_MS * 3)
    expect(harness.sent.slice(mark)).toEqual([])
  })

  test('dissolves the group when every member quit and lets a waiting newcomer found the next', async () => {
    const harness = await groupOf(['alice', 'bob'])
    harness.arrive('carol')
    harness.leave('bob', 'quit')
    expect(harness.delivery.status()).not.toBeNull()
    harness.leave('alice', 'quit')
    expect(harness.delivery.status()).toBeNull()
    expect(harness.store.groups.load()).toBeNull()
    expect(await harness.next('carol', 'found-request')).toEqual({ type: 'found-request' })
    expect(harness.framesTo('carol')).toEqual([{ type: 'found-request' }])

    await harness.delivery.groupFounded('carol', 'group-2')
    expect(harness.store.groups.load()).toEqual({ groupId: 'group-2', epoch: 0, roster: ['carol'] })
  })

  test('keeps a group whose members all quit while nobody waits to join', async () => {
    const harness = await groupOf(['alice', 'bob'])
    harness.leave('bob', 'quit')
    harness.leave('alice', 'quit')
    await Bun.sleep(LEAVE_GRACE_MS * 3)
    expect(harness.delivery.status()?.groupId).toBe('group-1')
    expect(harness.store.groups.load()?.groupId).toBe('group-1')
  })
})

describe('after a restart', () => {
  function restarted(record: GroupRecord): Harness {
    const store = openSqliteStore(':memory:', 1000)
    stores.push(store)
    store.groups.found(record)
    return createHarness({ store, initialGroup: store.groups.load() })
  }

  test('asks to remove roster members who stay away past the grace once someone can commit', async () => {
    const harness = restarted({ groupId: 'group-1', epoch: 3, roster: ['alice', 'bob', 'carol'] })
    await Bun.sleep(LEAVE_GRACE_MS * 3)
    expect(harness.sent).toEqual([])
    expect(harness.delivery.status()?.roster).toEqual(['alice', 'bob', 'carol'])

    harness.comeBack('alice')
    expect(harness.sent).toEqual([
      ['alice', { type: 'commit-request', epoch: 3, add: [], remove: ['bob', 'carol'] }],
    ])
    await harness.delivery.commit('alice', commitAt(3, [], ['bob', 'carol']))
    expect(harness.store.groups.load()).toEqual({ groupId: 'group-1', epoch: 4, roster: ['alice'] })
  })

  test('dissolves the stored group when nobody from the roster returns and a newcomer waits', async () => {
    const harness = restarted({ groupId: 'group-1', epoch: 3, roster: ['alice', 'bob'] })
    const started = performance.now()
    harness.arrive('carol')
    expect(harness.sent).toEqual([])
    expect(await harness.next('carol', 'found-request')).toEqual({ type: 'found-request' })
    expect(performance.now() - started).toBeGreaterThanOrEqual(LEAVE_GRACE_MS - TIMER_SLACK_MS)
    expect(harness.delivery.status()).toBeNull()
    expect(harness.store.groups.load()).toBeNull()
  })
})
