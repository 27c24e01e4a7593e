// New devices waiting to be linked, shared by every instance through Redis: the posts in a hash
// (taking one is a single HDEL, so one approver wins), the settlements as events on the stream
// every instance reads. Knows nothing of sessions; the link desk above it holds those.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import { nameKey } from '../../../shared/protocol/names.ts'
import type { LinkBoard, LinkSettlement, PostedLink } from '../room/link-board.ts'
import { KEYS } from './keys.ts'
import type { ClusterLink } from './link.ts'
import { HashValuesReply, IntegerReply, parseStored, query, TextReply } from './replies.ts'

const PostedLinkSchema = v.object({
  name: v.string(),
  identityKey: v.string(),
  nonce: v.string(),
  code: v.string(),
  expiresAt: v.number(),
})

export interface RedisLinkBoard extends LinkBoard {
  /** A settlement read from the events stream: the watchers hear it. */
  heard(identityKey: string, settlement: LinkSettlement): void
}

export function createRedisLinkBoard(redis: RedisClient, link: ClusterLink): RedisLinkBoard {
  const watchers: Array<(identityKey: string, settlement: LinkSettlement) => void> = []
  return {
    async post(posted) {
      await query(redis, IntegerReply, 'HSET', [
        KEYS.links,
        posted.identityKey,
        JSON.stringify(posted),
      ])
    },
    async withdraw(identityKey) {
      await query(redis, IntegerReply, 'HDEL', [KEYS.links, identityKey])
    },
    async find(code, now) {
      // Few devices wait at once: one read of them all, the expired ones cleared on the way.
      const posts = await query(redis, HashValuesReply, 'HGETALL', [KEYS.links])
      const found: PostedLink[] = []
      for (const text of posts) {
        const post = parseStored(PostedLinkSchema, text)
        if (post.expiresAt <= now)
          link.track(query(redis, IntegerReply, 'HDEL', [KEYS.links, post.identityKey]))
        else if (post.code === code) found.push(post)
      }
      return found
    },
    async take(identityKey, name, now) {
      const text = await query(redis, TextReply, 'HGET', [KEYS.links, identityKey])
      if (text === null) return null
      const post = parseStored(PostedLinkSchema, text)
      if (nameKey(post.name) !== nameKey(name)) return null
      // Whoever deletes it takes it: two approvers at once never both link the device.
      if ((await query(redis, IntegerReply, 'HDEL', [KEYS.links, identityKey])) !== 1) return null
      return post.expiresAt > now ? post : null
    },
    async settle(identityKey, settlement) {
      await link.emit({
        type: 'link-settled',
        identityKey,
        links: settlement ? [...settlement] : null,
      })
    },
    watch(listener) {
      watchers.push(listener)
    },
    heard(identityKey, settlement) {
      for (const watcher of watchers) watcher(identityKey, settlement)
    },
  }
}
