// The MLS Delivery Service: who founds the group, who commits, one checked commit per epoch,
// Welcome routing, removing members who quit or stay away, and passing over committers whose
// commits members could not process. It follows the group's public state (never a secret or a
// message) to check every commit before it is logged. No sockets here.

import { checkCommit } from '../../../shared/mls/commit-check.ts'
import { groupFromGroupInfo } from '../../../shared/mls/public-group.ts'
import { decodeBase64url, encodeBase64url } from '../../../shared/protocol/base64url.ts'
import type { Member, ServerFrame } from '../../../shared/protocol/frames.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import { errorEvent, ignoreEvents } from '../observe/events.ts'
import { BlameBook } from './blame-book.ts'
import type { Delivery, DeliveryOptions } from './delivery-port.ts'
import {
  claimsRefusal,
  createKeyPackageAdmission,
  nextAsked,
  type PendingAdd,
  type Refusal,
  type Request,
  withinRequestBudget,
} from './delivery-request.ts'
import { GraceTimers } from './grace-timers.ts'
import {
  acceptedCommit,
  type CurrentGroup,
  commitAccepted,
  currentGroup,
  followed,
  groupRecord,
  leafEncryptionKeys,
  statusOf,
  welcomeFrame,
} from './group-records.ts'
import type { CommitInput } from './ports.ts'

export type { Delivery, DeliveryOptions } from './delivery-port.ts'
export { followPresence } from './ports.ts'

const NO_GROUP: Refusal = { code: 'not_in_group', message: 'the room has no group yet' }
const MOVED_ON: Refusal = { code: 'stale_epoch', message: 'the request this answers has moved on' }
const LOST_RACE: Refusal = { code: 'stale_epoch', message: 'another commit won this epoch' }

export function createDelivery(options: DeliveryOptions): Delivery {
  const { store, sendTo, now } = options
  const events = options.events ?? ignoreEvents
  const joined = options.joined ?? (() => {})
  let group: CurrentGroup | null = null
  /** Every change of the group goes through here, so rooms hear of each. */
  function setGroup(next: CurrentGroup | null): void {
    group = next
    options.groupChanged?.(next && statusOf(next.record))
  }
  if (options.initialGroup) {
    try {
      group = currentGroup(options.initialGroup)
    } catch (error) {
      events(errorEvent('delivery', error))
      void Promise.resolve(store.dissolve(options.initialGroup.groupId)).catch(() => {})
    }
  }
  // Everything here is keyed by identity key: one name may have several devices, each a leaf.
  const pendingAdds = new Map<string, PendingAdd>()
  /** Roster leaves to remove: they quit, stayed away past the grace, rejoin afresh or were blamed. */
  const pendingRemoves = new Set<string>()
  const grace = new GraceTimers(options.leaveGraceMs, (key) => {
    if (inRoster(key)) pendingRemoves.add(key)
    advance()
  })
  /** Committers that let a request time out at this epoch; asked again only when all have. */
  const passedOver = new Set<string>()
  const blame = new BlameBook(now)
  const admitKeyPackage = createKeyPackageAdmission(now)
  let inFlight: Request | undefined

  // After a restart everyone is away: start their grace so a room whose members never return
  // does not keep newcomers waiting forever.
  for (const key of group?.record.roster ?? []) grace.start(key)

  function inRoster(key: string): boolean {
    return group?.members.has(key) ?? false
  }

  const isBlamed = (key: string) => blame.isBlamed(key)

  function ask(
    kind: Request['kind'],
    to: Member,
    frame: ServerFrame,
    change: Pick<Request, 'adds' | 'removes'> = { adds: [], removes: [] },
  ): void {
    const timer = setTimeout(() => {
      if (inFlight?.timer !== timer) return
      inFlight = undefined
      passedOver.add(to.identityKey)
      advance()
    }, options.commitTimeoutMs)
    timer.unref?.()
    inFlight = { kind, to, ...change, timer, askedAt: now() }
    sendTo(to, frame)
  }

  function settle(): void {
    if (inFlight) clearTimeout(inFlight.timer)
    inFlight = undefined
  }

  /** Passes the asked member over at once: it answered with something that cannot be used. */
  function passOver(key: string): void {
    if (inFlight?.to.identityKey === key) {
      settle()
      passedOver.add(key)
    }
  }

  /** Decides the next step whenever anything changed; at most one request is out at a time. */
  function advance(): void {
    if (inFlight) return
    // Nothing to ask for (the common case as people come and go): no look at who is online, which
    // would make every join cost the room's size.
    if (pendingAdds.size === 0 && (group === null || pendingRemoves.size === 0)) return
    const online = options.online()
    const onlineKeys = new Set(online.map((member) => member.identityKey))
    // A newcomer who left cannot receive a Welcome; it asks again when it returns.
    for (const key of pendingAdds.keys()) if (!onlineKeys.has(key)) pendingAdds.delete(key)

    if (!group) {
      // A founder that let its request time out, or was blamed, is passed over as a committer is.
      const waiting = [...pendingAdds.values()]
      const willing = waiting.filter((add) => !isBlamed(add.identityKey))
      const founder = nextAsked(willing.length > 0 ? willing : waiting, passedOver)
      if (founder) ask('found', founder, { type: 'found-request' })
      return
    }
    if (pendingAdds.size === 0 && pendingRemoves.size === 0) return

    const candidates = online.filter(
      ({ identityKey: key }) =>
        inRoster(key) && !pendingRemoves.has(key) && !pendingAdds.has(key) && !isBlamed(key),
    )
    const committer = nextAsked(candidates, passedOver)
    if (committer) {
      const adds = withinRequestBudget([...pendingAdds.values()])
      const removes = [...pendingRemoves]
      ask(
        'commit',
        committer,
        {
          type: 'commit-request',
          epoch: group.record.epoch,
          add: adds.map(({ name, keyPackage }) => ({ name, keyPackage })),
          remove: removes,
        },
        { adds, removes },
      )
      return
    }
    // Nobody can commit. If some member is only briefly away, wait for it (or for its grace to
    // end); if all are gone for good, the group is over and a newcomer founds the next one. After a
    // member could not follow a commit the group may be poisoned: nobody waits, it starts anew.
    const stillExpected = group.record.roster.some(
      (key) => !pendingRemoves.has(key) && !pendingAdds.has(key) && !isBlamed(key),
    )
    const poisoned = group.record.roster.some(isBlamed)
    if ((stillExpected && !poisoned) || pendingAdds.size === 0) return
    const ended = group
    setGroup(null)
    blame.forgetCommits()
    pendingRemoves.clear()
    passedOver.clear()
    const reason = poisoned ? 'poisoned' : 'abandoned'
    events({ event: 'group_ended', epoch: ended.record.epoch, reason })
    // Members still holding it would otherwise go on sending into a group nobody reads.
    for (const member of online) {
      if (ended.members.has(member.identityKey)) {
        sendTo(member, { type: 'group-ended', groupId: ended.record.groupId })
      }
    }
    void Promise.resolve(store.dissolve(ended.record.groupId)).then(advance, advance)
  }

  /** Takes the group as the store holds it: another instance's Delivery Service moved it on. */
  async function reload(): Promise<void> {
    const stored = await store.load()
    setGroup(stored && currentGroup(stored))
    blame.forgetCommits()
    if (!group) return
    // What the other Delivery Service's commits did is no longer to be done here.
    const leafKeys = leafEncryptionKeys(group.view)
    for (const [key, add] of pendingAdds) if (leafKeys.has(add.leafKey)) pendingAdds.delete(key)
    for (const key of pendingRemoves) if (!inRoster(key)) pendingRemoves.delete(key)
  }

  /** Refuses a member's frame; one answering a request for `epoch` is logged as a refused commit. */
  function refuse(to: Member, refusal: Refusal, epoch?: number): void {
    const { code, message } = refusal
    events(
      epoch === undefined
        ? { event: 'refused', code, fatal: false, name: to.name }
        : { event: 'commit_refused', committer: to.name, epoch, code },
    )
    sendTo(to, { type: 'error', code, message, fatal: false })
  }

  /** The asked member answered with something unusable: nobody waits for its timeout. */
  function refuseCommit(from: Member, epoch: number, refusal: Refusal): void {
    refuse(from, refusal, epoch)
    passOver(from.identityKey)
    advance()
  }

  async function acceptCommit(from: Member, input: CommitInput): Promise<void> {
    const request = inFlight
    const current = group
    const refusal = claimsRefusal(group?.record ?? null, from, input, request)
    if (refusal || !request || !current) {
      refuseCommit(from, input.epoch, refusal ?? NO_GROUP)
      return
    }
    const claimedAdds = request.adds.filter((add) => input.adds.includes(add.identityKey))
    const verdict = await checkCommit(current.view, decodeBase64url(input.commit), {
      committer: from,
      adds: claimedAdds.map(({ name, identityKey, encoded }) => ({
        name,
        identityKey,
        keyPackage: encoded,
      })),
      removes: input.removes,
    })
    if (inFlight !== request || group !== current) {
      refuse(from, MOVED_ON, input.epoch)
      return
    }
    if (!verdict.ok) {
      refuseCommit(from, input.epoch, verdict)
      return
    }
    const { next } = verdict.value
    const { record, frame } = acceptedCommit(current.record, verdict.value, from.name, input, now())
    const entry = await store.acceptCommit(current.record, record, frame)
    if (entry === 'stale') {
      // Another instance's Delivery Service moved the group on (a leader change): follow the
      // stored group rather than ask again at an epoch that is gone.
      refuse(from, LOST_RACE, input.epoch)
      if (inFlight === request) settle()
      await reload()
      advance()
      return
    }
    setGroup(followed(record, next))
    events(commitAccepted(record, frame, now() - request.askedAt))
    joined(frame.adds)
    blame.committed(entry.seq, from)
    for (const key of input.removes) {
      pendingRemoves.delete(key)
      blame.removed(key)
      grace.cancel(key)
    }
    for (const key of input.adds) pendingAdds.delete(key)
    settle()
    passedOver.clear()
    options.broadcast(entry)
    if (input.welcome) {
      const welcome = await welcomeFrame(next, from.name, entry.seq, input.welcome)
      for (const add of claimedAdds) sendTo(add, welcome)
    }
    // Asked-for adds the committer left out were refused by it (a key it does not trust).
    for (const add of request.adds) {
      if (input.adds.includes(add.identityKey) || !pendingAdds.has(add.identityKey)) continue
      pendingAdds.delete(add.identityKey)
      refuse(add, {
        code: 'not_in_group',
        message: `${from.name} did not add you: your key may not match the one they know`,
      })
    }
    advance()
  }

  return {
    status: () => group && statusOf(group.record),

    memberOnline({ identityKey: key }) {
      grace.cancel(key)
      // Back before it was removed: it still holds its state, unless it asks to rejoin or was
      // blamed, whose leaf goes either way.
      if (!pendingAdds.has(key) && !isBlamed(key) && !blame.lostState(key))
        pendingRemoves.delete(key)
      advance()
    },

    memberOffline({ identityKey: key }, reason) {
      if (reason === 'shutdown' || reason === 'replaced') return
      passOver(key)
      if (inRoster(key)) {
        if (reason === 'quit') pendingRemoves.add(key)
        else grace.start(key)
      }
      advance()
    },

    async keyPackage(from, keyPackage) {
      const admitted = await admitKeyPackage(from, keyPackage)
      if (!admitted.ok) {
        refuse(from, admitted)
        return
      }
      const key = from.identityKey
      pendingAdds.set(key, admitted.value)
      // A device asking to be added again has lost its state: its old leaf must go, and it commits
      // nothing until it is back in.
      if (inRoster(key)) pendingRemoves.add(key)
      advance()
    },

    async groupFounded(from, groupInfo) {
      const request = inFlight
      if (group || request?.kind !== 'found' || request.to.identityKey !== from.identityKey) {
        refuse(from, {
          code: 'unrequested_commit',
          message: 'nobody asked you to found a group',
        })
        return
      }
      const verdict = await groupFromGroupInfo(decodeBase64url(groupInfo), from)
      if (inFlight !== request) return
      if (!verdict.ok) {
        refuse(from, verdict, 0)
        passOver(from.identityKey)
        advance()
        return
      }
      const view = verdict.value
      const record = groupRecord(encodeBase64url(view.context.groupId), 0, view)
      // Still in flight while the store answers: a member arriving meanwhile must not get the
      // founder asked again.
      const founded = await store.found(record)
      settle()
      if (!founded) {
        refuse(from, { code: 'stale_epoch', message: 'the room already has a group' })
        await reload()
        advance()
        return
      }
      setGroup(followed(record, view))
      events({ event: 'group_founded', founder: from.name })
      joined([from])
      blame.forgetCommits()
      pendingAdds.delete(from.identityKey)
      passedOver.clear()
      advance()
    },

    commit: acceptCommit,

    commitRefused(from, refusal) {
      const key = from.identityKey
      if (!group || !inRoster(key)) return
      // Whatever the reason, the reporter holds no usable state: its leaf goes.
      pendingRemoves.add(key)
      passOver(key)
      const committer = blame.report(from, refusal)
      if (committer) {
        if (inRoster(committer.identityKey)) pendingRemoves.add(committer.identityKey)
        passOver(committer.identityKey)
        const { seq } = refusal
        events({ event: 'commit_blamed', reporter: from.name, committer: committer.name, seq })
      }
      advance()
    },

    remove(name) {
      // The operator's word: every leaf of the name goes by the next commit, whatever the grace.
      let removing = false
      for (const member of group?.members.values() ?? []) {
        if (nameKey(member.name) !== nameKey(name)) continue
        grace.cancel(member.identityKey)
        pendingRemoves.add(member.identityKey)
        removing = true
      }
      if (removing) advance()
    },

    removeDevice({ identityKey: key }) {
      if (!inRoster(key)) return
      grace.cancel(key)
      pendingRemoves.add(key)
      advance()
    },

    stop() {
      settle()
      grace.stop()
    },
  }
}
