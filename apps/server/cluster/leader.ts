// The Delivery Service in a room shared through Redis: it runs on whichever instance holds the
// leader lease; every instance forwards its members' requests to it through the events stream,
// and its frames reach members wherever they are connected. Knows nothing of heartbeats or sockets.
import { type Member, type ServerFrame, UNAVAILABLE } from '../../../shared/protocol/frames.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import { createDelivery, type Delivery, followPresence } from '../room/delivery.ts'
import { currentRecord, statusOf } from '../room/group-records.ts'
import {
  type DeliveryService,
  type LocalMembers,
  type PresenceBook,
  requestDelivery,
} from '../room/ports.ts'
import type { DeliveryRequest, DirectEvent } from './events.ts'
import type { ClusterLink } from './link.ts'
import type { RedisStores } from './redis-store.ts'

export interface LeaderOptions {
  readonly link: ClusterLink
  readonly stores: RedisStores
  readonly presence: PresenceBook
  readonly limits: Pick<Limits, 'leaveGraceMs' | 'commitTimeoutMs'>
  readonly now: () => number
  /** This instance's members, once its room is connected; its event log has what the leader does. */
  readonly local: () => LocalMembers | undefined
}

export interface Leader {
  /** Whether this instance runs the Delivery Service now. */
  leads(): boolean
  /** The lease is this instance's now: the Delivery Service starts on the stored group. */
  take(): Promise<void>
  /** The lease is gone, or may be: the Delivery Service stops here. */
  stepDown(): void
  /** A member's request, from any instance, in the order the stream gave them. */
  request(event: DeliveryRequest): void
  /** A frame the leader sent one member, wherever it runs. */
  direct(event: DirectEvent): void
  /** An instance has become leader: members here still waiting to be added ask it again. */
  announced(): void
  /** The admin put this member out: if this instance leads, its leaf goes by the next commit. */
  expelled(name: string): void
  /** A device was unlinked: if this instance leads, its leaf goes by the next commit. */
  unlinked(member: Member): void
  /** The Delivery Service as this instance's room reaches it. */
  port(): DeliveryService
}

export function createLeader(options: LeaderOptions): Leader {
  const { link, stores, presence, limits } = options
  let leader: Delivery | undefined
  /** Requests for the leader are handled one at a time, in the order the stream gave them. */
  let requests: Promise<void> = Promise.resolve()
  /** Key packages of members here that have not been welcomed: a new leader must hear them again. */
  const waiting = new Map<string, { readonly from: Member; readonly keyPackage: string }>()

  /** Sends to a member here at once, or through the events stream to its instance. */
  function sendTo(to: Member, frame: ServerFrame): void {
    if (options.local()?.sendTo(to, frame)) {
      if (frame.type === 'welcome') waiting.delete(to.identityKey)
      return
    }
    link.track(link.emit({ type: 'direct', to, frame }))
  }

  presence.watch((frame) => {
    if (frame.event === 'leave') waiting.delete(frame.identityKey)
    if (!leader) return
    // One instance stopping is not the room stopping: its members may come back through another
    // instance, or not, so their grace starts as for a dropped connection.
    followPresence(leader)(
      frame.event === 'leave' && frame.reason === 'shutdown'
        ? { ...frame, reason: 'dropped' }
        : frame,
    )
  })

  function stepDown(): void {
    leader?.stop()
    leader = undefined
  }

  async function handle({ from, frame }: DeliveryRequest): Promise<void> {
    if (leader) await requestDelivery(leader, from, frame)
  }

  /** Forwards a member's request to whichever instance leads, after this instance's pending messages. */
  function forward(from: Member, frame: DeliveryRequest['frame']): Promise<unknown> {
    stores.flush()
    return link.emit({ type: 'ds', from, frame })
  }

  const port: DeliveryService = {
    async status() {
      const group = await stores.groups.load()
      return group && statusOf(currentRecord(group))
    },
    keyPackage(from, keyPackage) {
      waiting.set(from.identityKey, { from, keyPackage })
      forward(from, { type: 'key-package', keyPackage }).catch((error) => {
        link.report(error)
        options.local()?.sendTo(from, UNAVAILABLE)
      })
    },
    async groupFounded(from, groupInfo) {
      // The founder is in the group without a Welcome: nothing for a new leader to hear again.
      waiting.delete(from.identityKey)
      await forward(from, { type: 'group-founded', groupInfo })
    },
    async commit(from, input) {
      await forward(from, { type: 'commit', ...input })
    },
    async commitRefused(from, report) {
      await forward(from, { type: 'commit-refused', ...report })
    },
    // Through the events stream: the member may be connected to any instance, and any may lead.
    async expel(name, reason) {
      await link.emit({ type: 'expel', name, reason })
    },
    async unlinkDevice(member) {
      await link.emit({ type: 'unlink', member })
    },
    stop: stepDown,
  }

  return {
    leads: () => leader !== undefined,
    async take() {
      const group = await stores.groups.load()
      leader = createDelivery({
        store: stores.groups,
        initialGroup: group,
        leaveGraceMs: limits.leaveGraceMs,
        commitTimeoutMs: limits.commitTimeoutMs,
        now: options.now,
        sendTo,
        online: () => presence.list(),
        // The log stream carries the commit to every instance, this one included.
        broadcast() {},
        events: (event) => options.local()?.events(event),
        // Every instance's room hears it, in the events stream's order: before any Welcome.
        groupChanged(status) {
          // Here at once (a Welcome sent here goes straight out), then to every instance.
          options.local()?.groupChanged(status)
          link.track(link.emit({ type: 'group', status }))
        },
        joined(members) {
          link.track(Promise.resolve(stores.identities.confirm(members, options.now())))
        },
      })
      for (const member of presence.list()) leader.memberOnline(member)
      await link.emit({ type: 'leader', instance: link.instance })
    },
    stepDown,
    request(event) {
      requests = requests.then(() => handle(event)).catch((error) => link.report(error))
    },
    direct({ to, frame }) {
      if (options.local()?.sendTo(to, frame) && frame.type === 'welcome') {
        waiting.delete(to.identityKey)
      }
    },
    unlinked(member) {
      waiting.delete(member.identityKey)
      leader?.removeDevice(member)
    },
    expelled(name) {
      for (const [key, { from }] of waiting)
        if (nameKey(from.name) === nameKey(name)) waiting.delete(key)
      leader?.remove(name)
    },
    announced() {
      for (const { from, keyPackage } of waiting.values()) {
        link.track(forward(from, { type: 'key-package', keyPackage }))
      }
    },
    port: () => port,
  }
}
