// New devices waiting to be linked, shared by every instance through Redis: the posts in a hash
// (taking one is a single HDEL, so one approver wins), the settlements as events on the stream
// every instance reads. Knows nothing of sessions; the link desk above it holds those.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import { nameKey } from '../../../shared/protocol/names.ts'
import type { LinkBoard, LinkSettlement, PostedLink } from '../room/link-board.ts'
import { KEYS } from './keys.ts'
import type { ClusterLink } from './link.ts'
import {
  HashValuesReply,
  IntegerReply,
  parseReply,
  parseStored,
  query,
  TextReply,
} from './replies.ts'

const PostedLinkSchema = v.object({
  name: v.string(),
  identityKey: v.string(),
  nonce: v.string(),
  code: v.string(),
  expiresAt: v.number(),
})

/**
 * KEYS: links. ARGV: device key, case-folded name, now. Takes the device's post off the board if
 * it waits for that name (names are ASCII: Lua's lower is nameKey) and returns it, unexpired;
 * nil otherwise. One script, so a post made again meanwhile is never taken for the old one.
 */
const TAKE_LINK = `
local text = redis.call('HGET', KEYS[1], ARGV[1])
if not text then return nil end
local post = cjson.decode(text)
if string.lower(post.name) ~= ARGV[2] then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
if tonumber(post.expiresAt) <= tonumber(ARGV[3]) then return nil end
return text`

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
      // Whoever's script deletes it takes it: two approvers at once never both link the device.
      const reply = await link.run(TAKE_LINK, [KEYS.links], [identityKey, nameKey(name), now])
      const text = parseReply(TextReply, reply, 'EVAL')
      return text === null ? null : parseStored(PostedLinkSchema, text)
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
