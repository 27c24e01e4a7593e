// This client's place in the room's MLS group, as a state machine: outside it, joining it (a
// KeyPackage out, a Welcome awaited), held out over a changed key the user has yet to accept, or a
// member with its group state and log position. Founding, Welcomes, commits, refusals and the
// saved state are driven from here; sockets, message contents and views are not.
import { encodeBase64url } from '../protocol/base64url.ts'
import type {
  ClientFrame,
  CommitDeliverFrame,
  GroupStatus,
  ServerFrame,
} from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { Clock, Timer } from './clock.ts'
import { announceKeyChange, makeCommit } from './committer.ts'
import type { EventHub } from './event-hub.ts'
import type { ConnectionStatus } from './events.ts'
import { leavesRemoved } from './group-checks.ts'
import { takeCommit, takeWelcome } from './group-intake.ts'
import { GroupSaver } from './group-saver.ts'
import { groupChangedEvent } from './member-views.ts'
import type { MembershipState } from './membership-state.ts'
import {
  type ClientState,
  createKeyPackage,
  epochOf,
  foundGroup,
  groupIdOf,
  isRemoved,
  membersOf,
  type SigningKeys,
} from './mls.ts'
import { observePerson, type Self } from './person-keys.ts'
import type { GroupStateStore } from './stores.ts'
import type { TrustBook } from './trust-book.ts'

type WelcomeFrame = Extract<ServerFrame, { type: 'welcome' }>
type CommitRequest = Extract<ServerFrame, { type: 'commit-request' }>

/** How long to wait before asking to be added again after the server said `rejoin_limited`. */
const REJOIN_RETRY_MS = 20_000

export interface MembershipOptions {
  readonly name: string
  readonly store: GroupStateStore
  readonly trust: TrustBook
  readonly hub: EventHub
  readonly clock: Clock
  keys(): SigningKeys
  /** This client's name, key and person key, for the checks of other devices' leaves. */
  self(): Self
  send(frame: ClientFrame): void
  setStatus(status: ConnectionStatus, detail?: string): void
  /** Whether the server can be asked anything now. */
  connected(): boolean
  /** The log reader's side: what is held for later, and the highest sequence number seen. */
  readonly log: {
    seen(): number
    forgetThrough(seq: number): void
    drain(): Promise<void>
    clear(): void
  }
  /** Now a member: own messages the server may not have logged are sent again. */
  joined(): void
}

export class Membership {
  private held: MembershipState = { kind: 'outside' }
  /** Senders waiting for our commit in flight: released by any state without one. */
  private commitWaiters: PromiseWithResolvers<void> | undefined
  private loaded = false
  private rejoinTimer: Timer | undefined
  private member = Membership.deferred()
  private memberResolved = false

  private readonly saver: GroupSaver

  constructor(private readonly options: MembershipOptions) {
    this.saver = new GroupSaver(
      options.store,
      options.clock,
      () => (this.current.kind === 'member' ? this.current : undefined),
      (error) => options.hub.warn('protocol', `could not save state: ${error}`),
    )
  }

  get state(): MembershipState {
    return this.held
  }

  private get current(): MembershipState {
    return this.held
  }

  private set current(next: MembershipState) {
    this.held = next
    if (next.kind === 'member' && next.pendingCommit) return
    this.commitWaiters?.resolve()
    this.commitWaiters = undefined
  }

  /**
   * Resolves once our own commit in flight is merged or given up; undefined with none. A message
   * encrypted meanwhile would be in the epoch the commit ends, unreadable to whoever it adds.
   */
  ownCommitSettled(): Promise<void> | undefined {
    if (this.held.kind !== 'member' || !this.held.pendingCommit) return undefined
    this.commitWaiters ??= Promise.withResolvers<void>()
    return this.commitWaiters.promise
  }

  get group(): ClientState | undefined {
    return this.current.kind === 'member' ? this.current.group : undefined
  }

  /** The last log entry applied, or undefined outside the group. */
  get position(): number | undefined {
    return this.current.kind === 'member' ? this.current.lastSeq : undefined
  }

  whenMember(): Promise<void> {
    return this.member.promise
  }

  /** A new group state from reading or sending a message (the ratchet moved). */
  replaceGroup(group: ClientState): void {
    if (this.current.kind === 'member') this.current = { ...this.current, group }
    this.saveSoon()
  }

  advanceTo(seq: number): void {
    if (this.current.kind === 'member') this.current = { ...this.current, lastSeq: seq }
  }

  async load(): Promise<void> {
    if (this.loaded) return
    this.loaded = true
    const saved = await this.saver.load()
    if (saved === 'damaged') {
      const reason = 'the saved group state could not be read; rejoining as a newcomer'
      this.options.hub.warn('out_of_sync', reason)
    } else if (saved) {
      this.current = { kind: 'member', ...saved }
    }
  }

  /**
   * Admitted to the room: resume from where this client left the log if the server's group is
   * still ours and we are in it, else leave our copy and ask to be added. True when resuming; the
   * caller then asks for the log and says `ready()`.
   */
  async admitted(status: GroupStatus | null, head: number): Promise<boolean> {
    const { current } = this
    if (current.kind === 'member') {
      const ours = status !== null && groupIdOf(current.group) === status.groupId
      // By key: another device under our name may be in the group while this one was removed.
      const ownKey = encodeBase64url(this.options.keys().publicKey)
      const inIt = ours && status.roster.includes(ownKey)
      if (ours && inIt && epochOf(current.group) <= status.epoch && current.lastSeq <= head) {
        return true
      }
      await this.drop(
        !ours
          ? "the room's group was started anew while this client was away; rejoining"
          : current.lastSeq > head
            ? "the server's log is behind this client's (it lost data); rejoining"
            : 'this client was removed from the group while away; rejoining',
      )
    }
    await this.askToJoin()
    return false
  }

  async askToJoin(): Promise<void> {
    if (this.current.kind === 'held-out') return
    this.options.setStatus('joining', 'waiting for a member to add this client to the group')
    const keyPackage = await createKeyPackage(this.options.keys())
    this.current = { kind: 'joining', keyPackage }
    this.options.send({ type: 'key-package', keyPackage: encodeBase64url(keyPackage.encoded) })
  }

  async found(): Promise<void> {
    if (this.current.kind !== 'joining') return
    const founded = await foundGroup(this.current.keyPackage)
    this.current = { kind: 'member', group: founded.state, lastSeq: this.options.log.seen() }
    this.options.log.clear()
    this.options.send({ type: 'group-founded', groupInfo: encodeBase64url(founded.groupInfo) })
    await this.save()
    await this.announce([this.options.name], [])
    this.becameMember()
  }

  async welcome(frame: WelcomeFrame): Promise<void> {
    if (this.current.kind !== 'joining') return
    const taken = await takeWelcome(frame, this.current.keyPackage, this.options)
    if (!taken.ok) {
      await this.refuse(frame.seq, taken.reason, taken.message)
      return
    }
    this.current = { kind: 'member', group: taken.value, lastSeq: frame.seq }
    this.options.log.forgetThrough(frame.seq)
    await this.save()
    await this.announce([this.options.name], [])
    this.becameMember()
    await this.options.log.drain()
  }

  async commitRequested(request: CommitRequest): Promise<void> {
    const { current } = this
    if (
      current.kind !== 'member' ||
      epochOf(current.group) !== request.epoch ||
      current.pendingCommit
    )
      return
    const made = await makeCommit(current.group, request, this.options)
    if (!made) return
    this.current = {
      ...current,
      pendingCommit: { epoch: request.epoch, commit: made.frame.commit, state: made.state },
    }
    this.options.send(made.frame)
  }

  /** The server did not take our commit. */
  commitRefused(): void {
    if (this.current.kind === 'member') this.current = { ...this.current, pendingCommit: undefined }
  }

  async readCommit(frame: CommitDeliverFrame): Promise<void> {
    const { current } = this
    if (current.kind !== 'member') return
    const before = current.group
    const pending = current.pendingCommit
    let added: string[]
    let removed: string[]
    let next: ClientState
    if (
      pending &&
      frame.epoch === pending.epoch &&
      frame.commit === pending.commit &&
      nameKey(frame.from) === nameKey(this.options.name)
    ) {
      // Our own commit won: only now is it merged.
      next = pending.state
      added = frame.adds.map((member) => member.name)
      removed = (leavesRemoved(membersOf(before), frame.removes) ?? []).map((leaf) => leaf.name)
    } else {
      if (pending?.epoch === frame.epoch) this.commitRefused()
      if (frame.epoch < epochOf(before)) return
      if (frame.epoch > epochOf(before)) {
        await this.outOfSync(
          `a commit for epoch ${frame.epoch} arrived at epoch ${epochOf(before)}`,
        )
        return
      }
      const taken = await takeCommit(before, frame, this.options)
      if (!taken.ok) {
        await this.refuse(frame.seq, taken.reason, taken.message)
        return
      }
      next = taken.value.state
      added = taken.value.added.map((leaf) => leaf.name)
      removed = taken.value.removed.map((leaf) => leaf.name)
    }
    if (isRemoved(next)) {
      await this.drop('')
      this.options.hub.emit({
        type: 'membership',
        epoch: epochOf(before) + 1,
        members: [],
        added,
        removed,
        roomCode: '',
      })
      if (this.options.connected()) await this.askToJoin()
      return
    }
    this.current = { kind: 'member', group: next, lastSeq: frame.seq }
    await this.save()
    await this.announce(added, removed)
  }

  /** The server ended the group this client holds. */
  async groupEnded(groupId: string): Promise<void> {
    const { group } = this
    if (group && groupIdOf(group) === groupId)
      await this.outOfSync("the room's group was ended by the server")
  }

  /** The server limits how often a name asks to be added; ask again once it lets us. */
  rejoinLimited(retry: () => void): void {
    if (this.current.kind === 'member') return
    this.options.clock.clearTimeout(this.rejoinTimer)
    this.rejoinTimer = this.options.clock.setTimeout(() => {
      if (
        this.current.kind !== 'member' &&
        this.current.kind !== 'held-out' &&
        this.options.connected()
      )
        retry()
    }, REJOIN_RETRY_MS)
  }

  /** Every changed key is accepted now: a client held out over one asks to be added again. */
  async keysAccepted(): Promise<void> {
    if (this.current.kind !== 'held-out') return
    this.current = { kind: 'outside' }
    if (this.options.connected()) await this.askToJoin()
  }

  async outOfSync(reason: string): Promise<void> {
    await this.drop(`${reason}; rejoining as a newcomer`)
    if (this.options.connected()) await this.askToJoin()
  }

  async drop(reason: string): Promise<void> {
    this.current = { kind: 'outside' }
    this.options.log.clear()
    await this.saver.clear()
    if (this.memberResolved) {
      this.member = Membership.deferred()
      this.memberResolved = false
    }
    if (reason) this.options.hub.warn('out_of_sync', reason)
  }

  save(): Promise<void> {
    return this.saver.save()
  }

  /** Messages advance the ratchet: save soon, but once for a burst rather than per message. */
  saveSoon(): void {
    this.saver.saveSoon()
  }

  stop(): void {
    this.options.clock.clearTimeout(this.rejoinTimer)
  }

  /**
   * Refuses a commit or Welcome: nothing of it is applied. The server hears of it (and holds an
   * invalid one against its committer); this client leaves the group and asks to be added afresh —
   * at once, or after the user accepted a changed key.
   */
  private async refuse(
    seq: number,
    reason: 'invalid' | 'key_change',
    message: string,
  ): Promise<void> {
    this.options.send({ type: 'commit-refused', seq, reason })
    // Out of the group before anyone hears why: a view that asks then sees it outside.
    await this.drop('')
    if (reason === 'key_change') {
      this.current = { kind: 'held-out' }
      this.options.setStatus('joining', 'waiting for you to accept a changed key')
    }
    this.options.hub.warn('group_integrity', message)
    if (reason === 'invalid' && this.options.connected()) await this.askToJoin()
  }

  /** After every change of the group: pin each member's key, then tell the view. */
  private async announce(added: string[], removed: string[]): Promise<void> {
    const { group } = this
    if (!group) return
    const { trust, hub } = this.options
    const self = this.options.self()
    for (const member of membersOf(group)) {
      if (member.identityKey === self.identityKey) continue
      if ((await observePerson(trust, self, member, true)) === 'changed') {
        announceKeyChange(member.name, trust, hub)
      }
    }
    hub.emit(await groupChangedEvent(group, added, removed))
  }

  private becameMember(): void {
    this.options.setStatus('ready')
    this.options.hub.warn(
      'history_unreadable',
      'messages sent before you joined cannot be read (MLS by design)',
    )
    this.ready()
    this.options.joined()
  }

  /** In the group and able to send: whoever waits in `whenMember()` may go on. */
  ready(): void {
    this.memberResolved = true
    this.member.resolve()
  }

  private static deferred(): PromiseWithResolvers<void> {
    const deferred = Promise.withResolvers<void>()
    deferred.promise.catch(() => {})
    return deferred
  }
}
