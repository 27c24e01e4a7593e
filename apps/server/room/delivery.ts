// The MLS Delivery Service: who founds the group, who commits, one commit per epoch, Welcome
// routing, and removing members who quit or stay away. It never reads MLS: it keeps a roster from
// the commits' claims, which every member checks against the commits themselves. No sockets here.
import type {
  CommitDeliverFrame,
  ErrorCode,
  GroupStatus,
  LeaveReason,
  PresenceFrame,
  ServerFrame,
} from '../../../shared/protocol/frames.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import type { CommitInput, DeliveryService, GroupRecord, GroupStore, LoggedEntry } from './ports.ts'

export interface DeliveryOptions {
  readonly store: GroupStore
  readonly initialGroup: GroupRecord | null
  /** Members away this long (not after /quit, which is at once) are removed from the group. */
  readonly leaveGraceMs: number
  /** A committer or founder that has not answered by then is passed over for the next. */
  readonly commitTimeoutMs: number
  readonly now: () => number
  /** Sends to the named member's connection, if it is online here. */
  readonly sendTo: (name: string, frame: ServerFrame) => void
  /** Names of members online here, earliest admitted first. */
  readonly online: () => string[]
  /** Hands an accepted commit, already logged, to every member. */
  readonly broadcast: (entry: LoggedEntry) => void
}

export interface Delivery extends DeliveryService {
  status(): GroupStatus | null
  memberOnline(name: string): void
  memberOffline(name: string, reason: LeaveReason): void
}

/** Feeds the Delivery Service the room's joins and leaves, as every instance announced them. */
export function followPresence(delivery: Pick<Delivery, 'memberOnline' | 'memberOffline'>) {
  return (frame: PresenceFrame): void => {
    if (frame.event === 'join') delivery.memberOnline(frame.name)
    else delivery.memberOffline(frame.name, frame.reason)
  }
}

type Refusal = { readonly code: ErrorCode; readonly message: string }

export function createDelivery(options: DeliveryOptions): Delivery {
  const { store, sendTo, now } = options
  let group: GroupRecord | null = options.initialGroup
  /** Newcomers (or members who lost their state) waiting to be added, by name key. */
  const pendingAdds = new Map<string, { name: string; keyPackage: string }>()
  /** Roster members to remove: they quit, stayed away past the grace, or rejoin afresh. */
  const pendingRemoves = new Map<string, string>()
  const graceTimers = new Map<string, ReturnType<typeof setTimeout>>()
  /** Committers that let a request time out at this epoch; asked again only when all have. */
  const passedOver = new Set<string>()
  let inFlight:
    | {
        kind: 'found' | 'commit'
        to: string
        /** Names this request asked to add. */
        adds: string[]
        timer: ReturnType<typeof setTimeout>
      }
    | undefined

  // After a restart everyone is away: start their grace so a room whose members never return
  // does not keep newcomers waiting forever.
  for (const name of group?.roster ?? []) startGrace(name)

  function inRoster(name: string): boolean {
    const key = nameKey(name)
    return group?.roster.some((member) => nameKey(member) === key) ?? false
  }

  function startGrace(name: string): void {
    const key = nameKey(name)
    clearTimeout(graceTimers.get(key))
    const timer = setTimeout(() => {
      graceTimers.delete(key)
      if (inRoster(name)) pendingRemoves.set(key, name)
      advance()
    }, options.leaveGraceMs)
    timer.unref?.()
    graceTimers.set(key, timer)
  }

  function ask(
    kind: 'found' | 'commit',
    to: string,
    frame: ServerFrame,
    adds: string[] = [],
  ): void {
    const timer = setTimeout(() => {
      if (inFlight?.timer !== timer) return
      inFlight = undefined
      passedOver.add(nameKey(to))
      advance()
    }, options.commitTimeoutMs)
    timer.unref?.()
    inFlight = { kind, to, adds, timer }
    sendTo(to, frame)
  }

  function settle(): void {
    if (inFlight) clearTimeout(inFlight.timer)
    inFlight = undefined
  }

  /** Decides the next step whenever anything changed; at most one request is out at a time. */
  function advance(): void {
    if (inFlight) return
    const online = options.online()
    const onlineKeys = new Set(online.map(nameKey))
    // A newcomer who left cannot receive a Welcome; it asks again when it returns.
    for (const key of pendingAdds.keys()) if (!onlineKeys.has(key)) pendingAdds.delete(key)

    if (!group) {
      // A founder that let its request time out is passed over, as a committer is.
      const waiting = [...pendingAdds.values()]
      let founder = waiting.find((item) => !passedOver.has(nameKey(item.name)))
      if (!founder) {
        passedOver.clear()
        founder = waiting[0]
      }
      if (founder) ask('found', founder.name, { type: 'found-request' })
      return
    }
    if (pendingAdds.size === 0 && pendingRemoves.size === 0) return

    const candidates = online.filter(
      (name) =>
        inRoster(name) && !pendingRemoves.has(nameKey(name)) && !pendingAdds.has(nameKey(name)),
    )
    if (candidates.length > 0) {
      let fresh = candidates.filter((name) => !passedOver.has(nameKey(name)))
      if (fresh.length === 0) {
        passedOver.clear()
        fresh = candidates
      }
      const committer = fresh[0] as string
      const add = [...pendingAdds.values()]
      ask(
        'commit',
        committer,
        { type: 'commit-request', epoch: group.epoch, add, remove: [...pendingRemoves.values()] },
        add.map((item) => item.name),
      )
      return
    }
    // Nobody can commit. If some member is only briefly away, wait for it (or for its grace to
    // end); if all are gone for good, the group is over and a newcomer founds the next one.
    const stillExpected = group.roster.some(
      (name) => !pendingRemoves.has(nameKey(name)) && !pendingAdds.has(nameKey(name)),
    )
    if (stillExpected || pendingAdds.size === 0) return
    const ended = group
    group = null
    pendingRemoves.clear()
    passedOver.clear()
    void Promise.resolve(store.dissolve(ended.groupId)).then(advance, advance)
  }

  function refuse(to: string, refusal: Refusal): void {
    sendTo(to, { type: 'error', code: refusal.code, message: refusal.message, fatal: false })
  }

  function checkCommit(from: string, input: CommitInput): Refusal | undefined {
    if (!group) return { code: 'not_in_group', message: 'the room has no group yet' }
    if (input.epoch !== group.epoch) {
      return { code: 'stale_epoch', message: `the group is at epoch ${group.epoch}` }
    }
    if (!inRoster(from))
      return { code: 'not_in_group', message: 'only members of the group commit' }
    for (const name of input.adds) {
      if (pendingAdds.get(nameKey(name))?.name !== name) {
        return { code: 'unrequested_commit', message: `nobody asked to add ${name}` }
      }
      if (inRoster(name) && !input.removes.includes(name)) {
        return { code: 'unrequested_commit', message: `${name} rejoins: remove its old leaf too` }
      }
    }
    for (const name of input.removes) {
      if (pendingRemoves.get(nameKey(name)) !== name) {
        return { code: 'unrequested_commit', message: `nobody asked to remove ${name}` }
      }
    }
    if (input.adds.length === 0 && input.removes.length === 0) {
      return { code: 'unrequested_commit', message: 'an empty commit changes nothing here' }
    }
    return undefined
  }

  return {
    status: () => (group ? { ...group, roster: [...group.roster] } : null),

    memberOnline(name) {
      const key = nameKey(name)
      clearTimeout(graceTimers.get(key))
      graceTimers.delete(key)
      // Back before it was removed: it still holds its state, unless it asks to rejoin.
      if (!pendingAdds.has(key)) pendingRemoves.delete(key)
      advance()
    },

    memberOffline(name, reason) {
      if (reason === 'shutdown' || reason === 'replaced') return
      const key = nameKey(name)
      if (inFlight && nameKey(inFlight.to) === key) {
        settle()
        passedOver.add(key)
      }
      if (inRoster(name)) {
        if (reason === 'quit') pendingRemoves.set(key, name)
        else startGrace(name)
      }
      advance()
    },

    keyPackage(from, keyPackage) {
      const key = nameKey(from)
      pendingAdds.set(key, { name: from, keyPackage })
      // A member asking to be added again has lost its state: its old leaf must go.
      if (inRoster(from)) pendingRemoves.set(key, from)
      advance()
    },

    async groupFounded(from, groupId) {
      if (group || inFlight?.kind !== 'found' || nameKey(inFlight.to) !== nameKey(from)) {
        refuse(from, { code: 'unrequested_commit', message: 'nobody asked you to found a group' })
        return
      }
      const founded: GroupRecord = { groupId, epoch: 0, roster: [from] }
      settle()
      if (!(await store.found(founded))) {
        refuse(from, { code: 'stale_epoch', message: 'the room already has a group' })
        group = await store.load()
        advance()
        return
      }
      group = founded
      pendingAdds.delete(nameKey(from))
      passedOver.clear()
      advance()
    },

    async commit(from, input) {
      const refusal = checkCommit(from, input)
      if (refusal || !group) {
        refuse(from, refusal ?? { code: 'not_in_group', message: 'the room has no group yet' })
        return
      }
      const removed = new Set(input.removes.map(nameKey))
      const next: GroupRecord = {
        groupId: group.groupId,
        epoch: group.epoch + 1,
        roster: [...group.roster.filter((name) => !removed.has(nameKey(name))), ...input.adds],
      }
      const frame: Omit<CommitDeliverFrame, 'seq'> = {
        type: 'commit',
        from,
        at: now(),
        epoch: input.epoch,
        commit: input.commit,
        adds: input.adds,
        removes: input.removes,
      }
      const entry = await store.acceptCommit(group, next, frame)
      if (entry === 'stale') {
        refuse(from, { code: 'stale_epoch', message: 'another commit won this epoch' })
        return
      }
      group = next
      for (const key of removed) {
        pendingRemoves.delete(key)
        clearTimeout(graceTimers.get(key))
        graceTimers.delete(key)
      }
      // Asked-for adds the committer left out were refused by it (a key it does not trust).
      const requested = inFlight?.to === from ? inFlight.adds : []
      for (const name of input.adds) pendingAdds.delete(nameKey(name))
      settle()
      passedOver.clear()
      options.broadcast(entry)
      if (input.welcome) {
        for (const name of input.adds) {
          sendTo(name, { type: 'welcome', from, seq: entry.seq, welcome: input.welcome })
        }
      }
      for (const name of requested) {
        if (input.adds.includes(name)) continue
        pendingAdds.delete(nameKey(name))
        refuse(name, {
          code: 'not_in_group',
          message: `${from} did not add you: your key may not match the one they know`,
        })
      }
      advance()
    },

    stop() {
      settle()
      for (const timer of graceTimers.values()) clearTimeout(timer)
      graceTimers.clear()
    },
  }
}
