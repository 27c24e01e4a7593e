// Where new devices wait to be linked, as every instance of a room sees them: one process keeps
// them in memory; instances sharing Redis keep them there (cluster/redis-links.ts), so a device
// waiting on one instance is approved from any. The board only lists and settles; the link desk
// (link-desk.ts) checks the approval and holds each waiting device's connection.
import type { DeviceLink } from '../../../shared/protocol/frames.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import type { MaybePromise } from './ports.ts'

/** A device waiting: the name it asks for, its key and nonce, its code, until when. */
export interface PostedLink {
  readonly name: string
  readonly identityKey: string
  readonly nonce: string
  readonly code: string
  readonly expiresAt: number
}

/** The approvals of a device a device of its name approved; null: it could not be linked. */
export type LinkSettlement = readonly DeviceLink[] | null

export interface LinkBoard {
  post(link: PostedLink): MaybePromise<void>
  /** The device no longer waits (its connection closed, or its code ran out). */
  withdraw(identityKey: string): MaybePromise<void>
  /** The unexpired posts with this code, at `now`. */
  find(code: string, now: number): MaybePromise<PostedLink[]>
  /**
   * The device's post for this name, taken off the board; null if another approver took it first,
   * it expired, or no device with that key waits for that name (left on the board).
   */
  take(identityKey: string, name: string, now: number): MaybePromise<PostedLink | null>
  /** Tells the instance where the device waits how its approval ended. */
  settle(identityKey: string, settlement: LinkSettlement): MaybePromise<void>
  /** Settlements for devices waiting here, from whichever instance approved them. */
  watch(listener: (identityKey: string, settlement: LinkSettlement) => void): void
}

export function createMemoryLinkBoard(): LinkBoard {
  const posts = new Map<string, PostedLink>()
  const watchers: Array<(identityKey: string, settlement: LinkSettlement) => void> = []
  return {
    post(link) {
      posts.set(link.identityKey, link)
    },
    withdraw(identityKey) {
      posts.delete(identityKey)
    },
    find: (code, now) =>
      [...posts.values()].filter((post) => post.code === code && post.expiresAt > now),
    take(identityKey, name, now) {
      const post = posts.get(identityKey)
      if (!post || nameKey(post.name) !== nameKey(name)) return null
      posts.delete(identityKey)
      return post.expiresAt > now ? post : null
    },
    settle(identityKey, settlement) {
      for (const watcher of watchers) watcher(identityKey, settlement)
    },
    watch(listener) {
      watchers.push(listener)
    },
  }
}
