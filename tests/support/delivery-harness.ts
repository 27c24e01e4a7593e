// Drives the Delivery Service in tests as a room would, with real MLS members: array-backed fake
// connections, members that make real KeyPackages, groups and commits and follow the accepted
// ones, a fake clock. Tests only; no sockets.
import { expect, jest } from 'bun:test'
import * as v from 'valibot'
import type { ServerEvent } from '../../apps/server/observe/events.ts'
import { createDelivery, type Delivery } from '../../apps/server/room/delivery.ts'
import type { CommitInput, CommitRefusal, GroupRecord } from '../../apps/server/room/ports.ts'
import { openSqliteStore, type SqliteStore } from '../../apps/server/store/sqlite-store.ts'
import { epochOf, groupIdOf, membersOf } from '../../shared/client/mls.ts'
import { epochDigest } from '../../shared/mls/public-group.ts'
import type { WireFrame } from '../../shared/protocol/codec.ts'
import {
  type CommitDeliverFrame,
  CommitDeliverFrameSchema,
  type ErrorCode,
  type LeaveReason,
  type Member,
  type ServerFrame,
} from '../../shared/protocol/frames.ts'
import { createMlsMember, type MlsMember } from './mls-member.ts'
import { keepEntries } from './retention.ts'
import { frameOf } from './wire.ts'

export type FrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>

export const LEAVE_GRACE_MS = 120_000
export const COMMIT_TIMEOUT_MS = 5_000
export const NOW = 1_700_000_000_000

/** What a member commits: KeyPackages as they were sent, and leaves to remove (keys or names). */
export interface Change {
  readonly add?: string[]
  readonly remove?: string[]
}

export interface Sent {
  readonly input: CommitInput
  /** The Welcome frame each added member must be sent, worked out from the committer's state. */
  readonly welcome?: FrameOf<'welcome'>
}

export interface Harness {
  readonly delivery: Delivery
  readonly store: SqliteStore
  /** Handles online here, earliest admitted first; what `online()` returns. */
  readonly online: string[]
  /** Every `sendTo` call as `[handle, frame]`. */
  readonly sent: Array<[string, ServerFrame]>
  /** Every broadcast entry's text, in order. */
  readonly broadcasts: WireFrame[]
  /** Every event the Delivery Service told the event log. */
  readonly events: ServerEvent[]
  /**
   * Each device by its handle in the test. A handle is the member's name unless the test gave
   * another: a second device of alice may be 'alice-phone', named 'alice' on the wire.
   */
  readonly members: Map<string, MlsMember>
  /** What `now()` returns; `tick` moves it with the fake timers. */
  readonly clock: { now: number }
  member(name: string): MlsMember
  framesTo(name: string): ServerFrame[]
  /** The first frame of `type` sent to `name` at or after index `from`, now or when it comes. */
  next<T extends ServerFrame['type']>(name: string, type: T, from?: number): Promise<FrameOf<T>>
  /** Moves the fake timers and the clock on together. */
  tick(ms: number): void
  /**
   * Comes online and sends a fresh KeyPackage, as a newcomer does; a device new to the harness is
   * made with `name` (by default the handle) and a key of its own.
   */
  arrive(handle: string, name?: string): Promise<MlsMember>
  /** Sends a fresh KeyPackage (a member that lost its state, or asks again). */
  offer(name: string): Promise<string>
  /** The last KeyPackage `name` sent through `arrive` or `offer`. */
  keyPackageOf(name: string): string
  /** Comes online without asking to be added, as a member with its state does. */
  comeBack(name: string): void
  leave(name: string, reason: LeaveReason): void
  /** Founds a group alone and sends its GroupInfo; returns the GroupInfo. */
  found(name: string): Promise<string>
  /** A commit-request adding and removing these handles' devices, with the KeyPackages sent. */
  request(epoch: number, add: string[], remove?: string[]): FrameOf<'commit-request'>
  /** Makes a real commit of `change` (by default what `name` was last asked), with its claims. */
  prepare(name: string, change?: Change, claims?: Partial<CommitInput>): Promise<CommitInput>
  /**
   * Sends a commit as `name` (or as `from`, the name and key the room vouches for); if it is
   * accepted, every member follows it as a client would.
   */
  send(name: string, input: CommitInput, from?: Member): Promise<Sent>
  /** `prepare`, then `send`. */
  commit(name: string, change?: Change, claims?: Partial<CommitInput>): Promise<Sent>
  /** `name` tells the server it could not process a commit (a `commit-refused` frame). */
  refused(name: string, report: CommitRefusal): void
}

const deliveries: Delivery[] = []
const stores: SqliteStore[] = []

/** Stops every Delivery Service and closes every store the harnesses made; for `afterEach`. */
export function stopHarnesses(): void {
  for (const delivery of deliveries.splice(0)) delivery.stop()
  for (const store of stores.splice(0)) store.close()
}

export function createHarness(
  options: {
    store?: SqliteStore
    initialGroup?: GroupRecord | null
    members?: Map<string, MlsMember>
  } = {},
): Harness {
  const store = options.store ?? openSqliteStore(':memory:', keepEntries(1000))
  if (!options.store) stores.push(store)
  const online: string[] = []
  const sent: Array<[string, ServerFrame]> = []
  const broadcasts: WireFrame[] = []
  const events: ServerEvent[] = []
  const members = options.members ?? new Map<string, MlsMember>()
  const keyPackages = new Map<string, string>()
  /** Merges a prepared commit into its maker's state, by the commit's text. */
  const merges = new Map<string, () => void>()
  const clock = { now: NOW }
  const waiters = new Set<() => void>()

  const delivery = createDelivery({
    store: store.groups,
    initialGroup: options.initialGroup ?? null,
    leaveGraceMs: LEAVE_GRACE_MS,
    commitTimeoutMs: COMMIT_TIMEOUT_MS,
    now: () => clock.now,
    sendTo(to, frame) {
      sent.push([handleOf(to), frame])
      for (const waiter of [...waiters]) waiter()
    },
    online: () => online.map((name) => member(name).binding),
    broadcast: (entry) => broadcasts.push(entry.wire),
    events: (event) => events.push(event),
  })
  deliveries.push(delivery)

  function member(name: string): MlsMember {
    const found = members.get(name)
    if (!found) throw new Error(`${name} has not arrived`)
    return found
  }

  /** The handle of the device with this key; the wire's name for one the harness does not hold. */
  function handleOf(to: Member): string {
    for (const [handle, device] of members) {
      if (device.binding.identityKey === to.identityKey) return handle
    }
    return to.name
  }

  function framesTo(name: string): ServerFrame[] {
    return sent.filter(([to]) => to === name).map(([, frame]) => frame)
  }

  async function offer(name: string): Promise<string> {
    const keyPackage = await member(name).keyPackage()
    keyPackages.set(name, keyPackage)
    await delivery.keyPackage(member(name).binding, keyPackage)
    return keyPackage
  }

  function keyPackageOf(name: string): string {
    const keyPackage = keyPackages.get(name)
    if (keyPackage === undefined) throw new Error(`${name} sent no KeyPackage`)
    return keyPackage
  }

  function lastRequestTo(name: string): Change {
    const request = framesTo(name).findLast((frame) => frame.type === 'commit-request')
    if (request?.type !== 'commit-request') throw new Error(`nobody asked ${name} to commit`)
    return { add: request.add.map((add) => add.keyPackage), remove: request.remove }
  }

  async function prepare(
    name: string,
    change: Change = lastRequestTo(name),
    claims: Partial<CommitInput> = {},
  ): Promise<CommitInput> {
    const maker = member(name)
    const epoch = maker.state ? epochOf(maker.state) : 0
    const made = await maker.commit(change)
    merges.set(made.commit, made.merge)
    const welcome = made.welcome === undefined ? {} : { welcome: made.welcome }
    return {
      epoch,
      commit: made.commit,
      ...welcome,
      adds: made.adds,
      removes: made.removes,
      ...claims,
    }
  }

  /** Every member applies an accepted commit as its client would; those it adds join. */
  async function follow(committer: string, input: CommitInput, seq: number): Promise<Sent> {
    const groupId = delivery.status()?.groupId
    merges.get(input.commit)?.()
    for (const [name, other] of members) {
      const key = other.binding.identityKey
      if (name === committer || input.removes.includes(key)) continue
      if (input.adds.includes(key)) {
        await other.join(input.welcome as string)
      } else if (
        other.state &&
        groupIdOf(other.state) === groupId &&
        epochOf(other.state) === input.epoch
      ) {
        await other.apply(input.commit)
      }
    }
    const state = member(committer).state
    if (input.welcome === undefined || !state) return { input }
    const welcome: FrameOf<'welcome'> = {
      type: 'welcome',
      from: member(committer).name,
      seq,
      welcome: input.welcome,
      roster: membersOf(state).map(({ name, identityKey }) => ({ name, identityKey })),
      epochDigest: await epochDigest(state.groupContext, state.confirmationTag),
    }
    return { input, welcome }
  }

  async function send(name: string, input: CommitInput, from?: Member): Promise<Sent> {
    const before = broadcasts.length
    await delivery.commit(from ?? member(name).binding, input)
    for (const wire of broadcasts.slice(before)) {
      const entry = v.parse(CommitDeliverFrameSchema, frameOf(wire))
      if (entry.commit === input.commit) return follow(name, input, entry.seq)
    }
    return { input }
  }

  return {
    delivery,
    store,
    online,
    sent,
    broadcasts,
    events,
    members,
    clock,
    member,
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
    tick(ms) {
      clock.now += ms
      jest.advanceTimersByTime(ms)
    },
    async arrive(handle, name = handle) {
      if (!members.has(handle)) members.set(handle, await createMlsMember(name))
      online.push(handle)
      delivery.memberOnline(member(handle).binding)
      await offer(handle)
      return member(handle)
    },
    offer,
    keyPackageOf,
    comeBack(name) {
      online.push(name)
      delivery.memberOnline(member(name).binding)
    },
    leave(name, reason) {
      online.splice(online.indexOf(name), 1)
      delivery.memberOffline(member(name).binding, reason)
    },
    async found(name) {
      const groupInfo = await member(name).found()
      await delivery.groupFounded(member(name).binding, groupInfo)
      return groupInfo
    },
    request(epoch, add, remove = []) {
      const relayed = add.map((handle) => ({
        name: member(handle).name,
        keyPackage: keyPackageOf(handle),
      }))
      return { type: 'commit-request', epoch, add: relayed, remove: keysOf({ member }, remove) }
    },
    prepare,
    send,
    async commit(name, change, claims) {
      return send(name, await prepare(name, change, claims))
    },
    refused(name, report) {
      delivery.commitRefused(member(name).binding, report)
    },
  }
}

/** A group founded by the first name, with the others added one commit each, all online. */
export async function groupOf(names: [string, ...string[]]): Promise<Harness> {
  const harness = createHarness()
  const [founder, ...others] = names
  await harness.arrive(founder)
  await harness.found(founder)
  for (const name of others) {
    await harness.arrive(name)
    await harness.commit(founder)
  }
  expect(harness.delivery.status()?.roster).toEqual(keysOf(harness, names))
  return harness
}

/** The identity keys of these devices' leaves, by their handles. */
export function keysOf(harness: Pick<Harness, 'member'>, handles: readonly string[]): string[] {
  return handles.map((handle) => harness.member(handle).binding.identityKey)
}

/** The Welcome frame an accepted commit that added someone must have sent each newcomer. */
export function welcomeOf(sent: Sent): FrameOf<'welcome'> {
  if (!sent.welcome) throw new Error('the commit was refused, or added nobody')
  return sent.welcome
}

/** A non-fatal error frame with any message. */
export function refusal(code: ErrorCode): FrameOf<'error'> {
  return { type: 'error', code, message: expect.any(String), fatal: false }
}

/** The room's log as the store holds it. */
export async function logged(harness: Harness): Promise<CommitDeliverFrame[]> {
  const entries = await harness.store.log.readAfter(0, 100)
  return entries.map((entry) => v.parse(CommitDeliverFrameSchema, frameOf(entry.wire)))
}
