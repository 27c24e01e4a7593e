// Name bindings in Redis, shared by every instance: name → key, skeleton → name, the names not
// yet used in the group by when they were bound, and the admin's bans and invites. Lua scripts
// (identity-scripts.ts) decide each change atomically.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import { nameKey, nameSkeleton } from '../../../shared/protocol/names.ts'
import type { ClaimResult, IdentityStore, NameBinding } from '../room/ports.ts'
import {
  ADD_SKELETONS,
  BAN,
  CLAIM,
  CONFIRM,
  RELEASE,
  TAKE_INVITE,
  UNBAN,
} from './identity-scripts.ts'
import { KEYS } from './keys.ts'
import {
  HashEntriesReply,
  IntegerReply,
  parseReply,
  query,
  sendCommand,
  TextReply,
} from './replies.ts'

/** The claim script's answers, in its return codes' order. */
const RESULTS: readonly ClaimResult[] = ['new', 'known', 'conflict', 'confusable', 'limited']

/** An unconfirmed binding is listed as `<name key> <skeleton>`: what freeing it needs to know. */
const unconfirmedMember = (key: string) => `${key} ${nameSkeleton(key)}`

const NameKeysReply = v.array(v.string())

/** `<bound at> <confirmed at or -> <name>` as the claim and confirm scripts write it. */
function readDetails(key: string, details: string | undefined) {
  const [boundAt, confirmedAt, name] = details?.split(' ') ?? []
  if (boundAt === undefined || confirmedAt === undefined || name === undefined) {
    // Bound before details were kept: when is not known, and it counts as used, like a migration.
    return { name: key, boundAt: 0, confirmedAt: 0 }
  }
  return {
    name,
    boundAt: Number(boundAt),
    confirmedAt: confirmedAt === '-' ? null : Number(confirmedAt),
  }
}

export function createRedisIdentities(redis: RedisClient): IdentityStore {
  const evalScript = (script: string, keys: string[], args: string[]) =>
    sendCommand(redis, 'EVAL', [script, String(keys.length), ...keys, ...args])
  const evalInteger = async (script: string, keys: string[], args: string[]) =>
    parseReply(IntegerReply, await evalScript(script, keys, args), 'EVAL')
  const bindingKeys = [KEYS.identities, KEYS.nameSkeletons, KEYS.unconfirmedNames, KEYS.nameDetails]

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
      await evalInteger(ADD_SKELETONS, [KEYS.nameSkeletons], pairs)
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
      const code = await evalInteger(CLAIM, bindingKeys, [
        key,
        nameSkeleton(key),
        identityKey,
        String(at),
        terms.unusedBefore === undefined ? '' : String(terms.unusedBefore),
        terms.mayBind === false ? '0' : '1',
        name,
      ])
      const result = RESULTS[code]
      if (result === undefined) throw new Error(`the claim script answered ${code}`)
      return result
    },
    async confirm(members, at) {
      if (members.length === 0) return
      const args = members.flatMap((member) => {
        const key = nameKey(member.name)
        return [key, unconfirmedMember(key), member.identityKey]
      })
      await evalInteger(
        CONFIRM,
        [KEYS.identities, KEYS.unconfirmedNames, KEYS.nameDetails],
        [String(at), ...args],
      )
    },
    async bindings(): Promise<NameBinding[]> {
      const bound = await query(redis, HashEntriesReply, 'HGETALL', [KEYS.identities])
      const details = new Map(await query(redis, HashEntriesReply, 'HGETALL', [KEYS.nameDetails]))
      return bound.map(([key, identityKey]) => ({
        ...readDetails(key, details.get(key)),
        identityKey,
      }))
    },
    async release(name) {
      const key = nameKey(name)
      return (await evalInteger(RELEASE, bindingKeys, [key, nameSkeleton(key)])) === 1
    },
    async ban(name) {
      const reply = await evalScript(BAN, [KEYS.identities, KEYS.bans], [nameKey(name)])
      return parseReply(TextReply, reply, 'EVAL')
    },
    async unban(name) {
      return (await evalInteger(UNBAN, [KEYS.bans], [nameKey(name)])) > 0
    },
    async isBanned(identityKey) {
      return (await query(redis, IntegerReply, 'HEXISTS', [KEYS.bans, identityKey])) === 1
    },
    async addInvite(invite) {
      const value = `${nameKey(invite.name)} ${invite.expiresAt} ${invite.name}`
      await query(redis, IntegerReply, 'HSET', [KEYS.invites, invite.codeDigest, value])
    },
    async takeInvite(codeDigest, name, at) {
      const reply = await evalScript(
        TAKE_INVITE,
        [KEYS.invites],
        [codeDigest, nameKey(name), String(at)],
      )
      const taken = parseReply(TextReply, reply, 'EVAL')
      if (taken === null) return null
      const [, expiresAt, spelled] = taken.split(' ')
      return { codeDigest, name: spelled ?? name, expiresAt: Number(expiresAt) }
    },
  }
}
