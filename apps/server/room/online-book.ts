// Who is online, in order of arrival, with a cursor for each: what `ready` and `who` page through.
// One book for the presence of one process and for that of a room shared through Redis.
import type { Member } from '../../../shared/protocol/frames.ts'

export interface MembersPage {
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

  get size(): number {
    return this.online.size
  }

  get(identityKey: string): Member | undefined {
    return this.online.get(identityKey)?.member
  }

  /** Online from now: moved to the end (a reconnect arrives again), with a new cursor. */
  arrive({ name, identityKey }: Member): void {
    this.online.delete(identityKey)
    this.arrivals += 1
    this.online.set(identityKey, { member: { name, identityKey }, since: this.arrivals })
  }

  depart(identityKey: string): void {
    this.online.delete(identityKey)
  }

  list(): Member[] {
    return [...this.online.values()].map((entry) => entry.member)
  }

  /**
   * At most `limit` members who arrived after the cursor `after` (0 for the start), earliest first.
   * Cursors are arrivals, not positions: someone leaving between two pages moves nobody past one.
   */
  page(after: number, limit: number): MembersPage {
    const members: Member[] = []
    let last = after
    for (const { member, since } of this.online.values()) {
      if (since <= after) continue
      if (members.length === limit) return { members, next: last }
      members.push(member)
      last = since
    }
    return { members, next: null }
  }
}
