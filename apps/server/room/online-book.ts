// Who is online, in order of arrival, with a cursor for each: what `ready` and `who` page through.
// One book for the presence of one process and for that of a room shared through Redis.
import type { Member } from '../../../shared/protocol/frames.ts'

export interface MembersPage {
  /** Shared with every caller given the same page (the first is kept): never changed. */
  readonly members: Member[]
  /** The cursor to ask for the page after this one; null when this one ends the list. */
  readonly next: number | null
}

export class OnlineBook {
  /**
   * By identity key: each device of a name is online on its own. A Map keeps insertion order,
   * which `since` follows.
   */
  private readonly online = new Map<string, { readonly member: Member; readonly since: number }>()
  private arrivals = 0
  /**
   * The first page as last listed, with the cursor of its last member. Every `ready` sends it, and
   * in a large room a join lands past it, so it is kept until a change reaches it.
   */
  private first:
    | { readonly limit: number; readonly page: MembersPage; readonly last: number }
    | undefined

  get size(): number {
    return this.online.size
  }

  get(identityKey: string): Member | undefined {
    return this.online.get(identityKey)?.member
  }

  /** Online from now: moved to the end (a reconnect arrives again), with a new cursor. */
  arrive({ name, identityKey }: Member): void {
    this.depart(identityKey)
    this.arrivals += 1
    this.online.set(identityKey, { member: { name, identityKey }, since: this.arrivals })
    // At the end: on the first page, or the first one past it (which gives that page a cursor).
    if (this.first && this.online.size <= this.first.limit + 1) this.first = undefined
  }

  depart(identityKey: string): void {
    const entry = this.online.get(identityKey)
    if (!entry) return
    this.online.delete(identityKey)
    // Listed on the first page, or the last one past it (that page then ends the list).
    const { first } = this
    if (first && (entry.since <= first.last || this.online.size <= first.limit)) {
      this.first = undefined
    }
  }

  list(): Member[] {
    return [...this.online.values()].map((entry) => entry.member)
  }

  /**
   * At most `limit` members who arrived after the cursor `after` (0 for the start), earliest first.
   * Cursors are arrivals, not positions: someone leaving between two pages moves nobody past one.
   */
  page(after: number, limit: number): MembersPage {
    if (after === 0 && this.first?.limit === limit) return this.first.page
    const members: Member[] = []
    let last = after
    for (const { member, since } of this.online.values()) {
      if (since <= after) continue
      if (members.length === limit) return this.keep(after, limit, { members, next: last }, last)
      members.push(member)
      last = since
    }
    return this.keep(after, limit, { members, next: null }, last)
  }

  private keep(after: number, limit: number, page: MembersPage, last: number): MembersPage {
    if (after === 0) this.first = { limit, page, last }
    return page
  }
}
