// Name bindings in Redis, shared by every instance: name → key, skeleton → name, and the names not
// yet used in the group by when they were bound. A Lua script decides each claim atomically.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import { nameKey, nameSkeleton } from '../../../shared/protocol/names.ts'
import type { ClaimResult, IdentityStore } from '../room/ports.ts'
import { KEYS } from './keys.ts'
import { IntegerReply, parseReply, query, sendCommand, TextReply } from './replies.ts'

/** The claim script's answers, in its return codes' order. */
const RESULTS: readonly ClaimResult[] = ['new', 'known', 'conflict', 'confusable', 'limited']

/** Lapsed bindings freed by one claim at most; the rest go with the next ones. */
const LAPSE_BATCH = 256

/** An unconfirmed binding is listed as `<name key> <skeleton>`: what freeing it needs to know. */
const unconfirmedMember = (key: string) => `${key} ${nameSkeleton(key)}`

/**
 * KEYS: identities, skeletons, unconfirmed. ARGV: name key, skeleton, identity key, time, lapse
 * before ('' for never), may bind ('1'/'0'). Frees lapsed bindings, then decides: 0 new, 1 known,
 * 2 conflict, 3 confusable, 4 limited.
 */
const CLAIM = `
local function free(name, skeleton)
  redis.call('HDEL', KEYS[1], name)
  if redis.call('HGET', KEYS[2], skeleton) == name then redis.call('HDEL', KEYS[2], skeleton) end
  redis.call('ZREM', KEYS[3], name .. ' ' .. skeleton)
end
local function lapsed(name, skeleton)
  if ARGV[5] == '' then return false end
  local bound = redis.call('ZSCORE', KEYS[3], name .. ' ' .. skeleton)
  return bound and tonumber(bound) < tonumber(ARGV[5])
end
if ARGV[5] ~= '' then
  local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[5], 'LIMIT', 0, ${LAPSE_BATCH})
  for _, member in ipairs(old) do
    local name, skeleton = string.match(member, '^(%S+) (%S+)$')
    free(name, skeleton)
  end
end
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and lapsed(ARGV[1], ARGV[2]) then
  free(ARGV[1], ARGV[2])
  owner = false
end
if owner then
  if owner == ARGV[3] then return 1 end
  return 2
end
local holder = redis.call('HGET', KEYS[2], ARGV[2])
if holder and lapsed(holder, ARGV[2]) then
  free(holder, ARGV[2])
  holder = false
end
if holder then return 3 end
if ARGV[6] ~= '1' then return 4 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1] .. ' ' .. ARGV[2])
return 0`

/**
 * KEYS: identities, unconfirmed. ARGV: name key, unconfirmed member, identity key, … for each.
 * Confirms the names still bound to those keys.
 */
const CONFIRM = `
for i = 1, #ARGV, 3 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 2] then redis.call('ZREM', KEYS[2], ARGV[i + 1]) end
end
return 0`

/** KEYS: skeletons. ARGV: skeleton, name key, … Lists names bound before skeletons were kept. */
const ADD_SKELETONS = `
for i = 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 0`

const NameKeysReply = v.array(v.string())

export function createRedisIdentities(redis: RedisClient): IdentityStore {
  const eval_ = async (script: string, keys: string[], args: string[]) =>
    parseReply(
      IntegerReply,
      await sendCommand(redis, 'EVAL', [script, String(keys.length), ...keys, ...args]),
      'EVAL',
    )

  /**
   * Bindings from before skeletons were kept get theirs, once for the room: they are compared like
   * any other, and count as confirmed (whether they were used is not known; a member's must stay).
   * Repeating it is harmless, so an instance that stopped halfway simply does it again.
   */
  async function addLegacySkeletons(): Promise<void> {
    if ((await query(redis, TextReply, 'GET', [KEYS.namesMigrated])) !== null) return
    const keys = await query(redis, NameKeysReply, 'HKEYS', [KEYS.identities])
    for (let first = 0; first < keys.length; first += 1000) {
      const pairs = keys.slice(first, first + 1000).flatMap((key) => [nameSkeleton(key), key])
      await eval_(ADD_SKELETONS, [KEYS.nameSkeletons], pairs)
    }
    await query(redis, TextReply, 'SET', [KEYS.namesMigrated, '1'])
  }
  let migrated: Promise<void> | undefined

  return {
    async claim(name, identityKey, at, terms = {}) {
      migrated ??= addLegacySkeletons().catch((error) => {
        migrated = undefined
        throw error
      })
      await migrated
      const key = nameKey(name)
      const code = await eval_(
        CLAIM,
        [KEYS.identities, KEYS.nameSkeletons, KEYS.unconfirmedNames],
        [
          key,
          nameSkeleton(key),
          identityKey,
          String(at),
          terms.unusedBefore === undefined ? '' : String(terms.unusedBefore),
          terms.mayBind === false ? '0' : '1',
        ],
      )
      const result = RESULTS[code]
      if (result === undefined) throw new Error(`the claim script answered ${code}`)
      return result
    },
    async confirm(members) {
      if (members.length === 0) return
      const args = members.flatMap((member) => {
        const key = nameKey(member.name)
        return [key, unconfirmedMember(key), member.identityKey]
      })
      await eval_(CONFIRM, [KEYS.identities, KEYS.unconfirmedNames], args)
    },
  }
}
