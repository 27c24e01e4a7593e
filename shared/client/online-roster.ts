// Who is online, as this client knows it: the first page `ready` gave, the joins and leaves since,
// and the rest of a large room's list only when asked (`loadAll`, a `who` page at a time). The
// count is the server's, so it is right even while the list is not complete.
import type { ClientFrame, Member, ServerFrame } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { EventHub } from './event-hub.ts'

type PresenceFrame = Extract<ServerFrame, { type: 'presence' }>
type MembersFrame = Extract<ServerFrame, { type: 'members' }>

export class OnlineRoster {
  /**
   * By identity key: each device known to be online. A person (a name) is online while any of
   * its devices is.
   */
  readonly online = new Map<string, Member>()
  private count = 0
  /** The cursor of the next page the server holds; null once every page is here. */
  private next: number | null = null
  private loading: Promise<void> | undefined
  /** Joins and leaves went untold (a large room): the next listing starts over. */
  private stale = false
  private pageArrived: PromiseWithResolvers<void> | undefined

  constructor(
    private readonly hub: EventHub,
    private readonly send: (frame: ClientFrame) => void,
  ) {}

  /** How many are online, this client included. */
  get size(): number {
    return this.count
  }

  /** Whether every online member is listed (a small room's `ready` lists them all). */
  get complete(): boolean {
    return this.next === null && !this.stale
  }

  admitted(members: readonly Member[], count: number, next: number | null): void {
    this.online.clear()
    for (const member of members) this.online.set(member.identityKey, member)
    this.count = count
    this.next = next
    this.stale = false
  }

  /** The connection is gone: nothing is known to be online until the next `ready`. */
  lost(): void {
    this.online.clear()
    this.count = 0
    this.pageArrived?.resolve()
  }

  /**
   * One device's join or leave. The views hear of a person: a join when its first device comes,
   * a leave when its last one goes. A join of a device listed already, or a leave of one never
   * listed, says nothing new (a batch can hold what `ready` already showed).
   */
  presence(frame: PresenceFrame): void {
    const known = this.online.get(frame.identityKey)
    if (frame.event === 'join') {
      this.online.set(frame.identityKey, { name: frame.name, identityKey: frame.identityKey })
      if (known?.name === frame.name) return
    } else {
      if (!known) return
      this.online.delete(frame.identityKey)
    }
    // Online before this device came, or still online after it left: nothing new of the person,
    // only of its devices.
    if (this.devicesOnline(frame.name) > (frame.event === 'join' ? 1 : 0)) {
      const { name, identityKey } = frame
      this.hub.emit({ type: 'device-presence', event: frame.event, name, identityKey })
      return
    }
    const reason = frame.event === 'leave' ? frame.reason : undefined
    this.hub.emit({ type: 'presence', event: frame.event, name: frame.name, at: frame.at, reason })
  }

  /** How many devices of the name are known to be online. */
  devicesOnline(name: string): number {
    let count = 0
    for (const member of this.online.values())
      if (nameKey(member.name) === nameKey(name)) count += 1
    return count
  }

  /**
   * The server's count. With no events beside it the room is large: joins and leaves are no
   * longer told, so the list is stale until asked for again, from the start.
   */
  counted(count: number, withEvents = true): void {
    this.count = count
    if (!withEvents) this.stale = true
  }

  page(frame: MembersFrame): void {
    for (const member of frame.members) {
      // A join that came after the page was read is newer than the page: it stays.
      if (!this.online.has(member.identityKey)) this.online.set(member.identityKey, member)
    }
    this.next = frame.next
    this.pageArrived?.resolve()
  }

  /** Asks for every page not yet here, one at a time; once is enough, however often called. */
  loadAll(): Promise<void> {
    this.loading ??= (async () => {
      if (this.stale) {
        this.online.clear()
        this.next = 0
        this.stale = false
      }
      while (this.next !== null) {
        this.pageArrived = Promise.withResolvers<void>()
        this.send({ type: 'who', after: this.next })
        await this.pageArrived.promise
        // Lost meanwhile: the next `ready` starts the list again.
        if (this.count === 0) break
      }
    })().finally(() => {
      this.loading = undefined
    })
    return this.loading
  }
}
