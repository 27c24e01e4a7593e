// Name bindings in Redis, shared by every instance: name → key, skeleton → name, the names not
// yet used in the group by when they were bound, and the admin's bans and invites. Lua scripts
// (identity-scripts.ts) decide each change atomically.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import { DeviceLinksSchema } from '../../../shared/protocol/frames.ts'
import { nameKey, nameSkeleton } from '../../../shared/protocol/names.ts'
import { deviceLinks } from '../room/device-book.ts'
import type {
  ClaimResult,
  DeviceRecord,
  IdentityStore,
  LinkResult,
  NameBinding,
} from '../room/ports.ts'
import {
  ADD_SKELETONS,
  BAN,
  CLAIM,
  CONFIRM,
  RELEASE,
  SET_DEVICES,
  TAKE_INVITE,
  UNBAN,
} from './identity-scripts.ts'
import { KEYS } from './keys.ts'
import {
  HashEntriesReply,
  IntegerReply,
  parseReply,
  parseStored,
  query,
  sendCommand,
  TextReply,
} from './replies.ts'

/** The claim script's answers, in its return codes' order. */
const RESULTS: readonly ClaimResult[] = ['new', 'known', 'conflict', 'confusable', 'limited']

/** An unconfirmed binding is listed as `<name key> <skeleton>`: what freeing it needs to know. */
const unconfirmedMember = (key: string) => `${key} ${nameSkeleton(key)}`

const NameKeysReply = v.array(v.string())

/** A name's linked devices as `KEYS.devices` holds them: only while it is bound to `of`. */
const StoredDevicesSchema = v.object({
  of: v.string(),
  devices: v.array(
    v.object({ identityKey: v.string(), links: DeviceLinksSchema, linkedAt: v.number() }),
  ),
})

/** A change of a name's devices lost a race this many times running: the store is too busy. */
const DEVICE_TRIES = 5

/** What a change of a name's devices stores (none: it stores nothing), and answers. */
interface DeviceChange<T> {
  readonly next?: DeviceRecord[]
  readonly result: T
  /** A key it links, and the answer should that key turn out to be in use already. */
  readonly adding?: { readonly key: string; readonly taken: T }
}

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
  const bindingKeys = [
    KEYS.identities,
    KEYS.nameSkeletons,
    KEYS.unconfirmedNames,
    KEYS.nameDetails,
    KEYS.devices,
  ]

  /** The name's key and linked devices, with the text read (for a compare-and-set), or null. */
  async function readDevices(key: string) {
    const owner = await query(redis, TextReply, 'HGET', [KEYS.identities, key])
    if (owner === null) return null
    const text = (await query(redis, TextReply, 'HGET', [KEYS.devices, key])) ?? ''
    const stored = text === '' ? null : parseStored(StoredDevicesSchema, text)
    const devices: DeviceRecord[] = stored?.of === owner ? stored.devices : []
    return { owner, text, devices }
  }

  /**
   * Changes the name's devices by `change` (given the key and the devices read), stored only if
   * neither changed meanwhile; read again and retried when they did. A key `adding` links is
   * checked to be free in the same script as the write: no key is two devices.
   */
  async function changeDevices<T>(
    key: string,
    change: (owner: string, devices: DeviceRecord[]) => DeviceChange<T>,
    unbound: T,
  ): Promise<T> {
    for (let tries = 0; tries < DEVICE_TRIES; tries += 1) {
      const read = await readDevices(key)
      if (!read) return unbound
      const { next, result, adding } = change(read.owner, read.devices)
      if (!next) return result
      const stored = next.length === 0 ? '' : JSON.stringify({ of: read.owner, devices: next })
      const args = [key, read.owner, read.text, stored, adding?.key ?? '']
      const code = await evalInteger(SET_DEVICES, [KEYS.identities, KEYS.devices], args)
      if (code === 1) return result
      if (code === 2 && adding) return adding.taken
    }
    throw new Error(`the devices of ${key} kept changing while being changed`)
  }

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
        [KEYS.identities, KEYS.unconfirmedNames, KEYS.nameDetails, KEYS.devices],
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
      const key = nameKey(name)
      const reply = await evalScript(BAN, [KEYS.identities, KEYS.bans], [key])
      const owner = parseReply(TextReply, reply, 'EVAL')
      if (owner === null) return null
      for (const device of (await readDevices(key))?.devices ?? []) {
        await query(redis, IntegerReply, 'HSETNX', [KEYS.bans, device.identityKey, key])
      }
      return owner
    },
    linkDevice(name, device, approval, at) {
      const unbound: LinkResult = { kind: 'refused', reason: 'unbound' }
      return changeDevices<LinkResult>(
        nameKey(name),
        (owner, devices) => {
          const result = deviceLinks(owner, devices, approval)
          if (result.kind !== 'linked') return { result }
          return {
            result,
            next: [...devices, { identityKey: device, links: result.links, linkedAt: at }],
            adding: { key: device, taken: { kind: 'refused', reason: 'taken' } },
          }
        },
        unbound,
      ).then(async (result) => {
        if (result.kind === 'linked')
          await query(redis, IntegerReply, 'HDEL', [KEYS.unlinkedDevices, device])
        return result
      })
    },
    async devices(name) {
      const key = nameKey(name)
      const read = await readDevices(key)
      if (!read) return []
      const details = await query(redis, TextReply, 'HGET', [KEYS.nameDetails, key])
      const { boundAt } = readDetails(key, details ?? undefined)
      return [{ identityKey: read.owner, links: [], linkedAt: boundAt }, ...read.devices]
    },
    unlinkDevice(name, device) {
      return changeDevices(
        nameKey(name),
        (_owner, devices) => {
          const next = devices.filter((item) => item.identityKey !== device)
          return next.length === devices.length ? { result: false } : { result: true, next }
        },
        false,
      ).then(async (unlinked) => {
        if (unlinked) {
          await query(redis, IntegerReply, 'HSET', [KEYS.unlinkedDevices, device, nameKey(name)])
        }
        return unlinked
      })
    },
    async wasUnlinked(name, device) {
      const from = await query(redis, TextReply, 'HGET', [KEYS.unlinkedDevices, device])
      return from === nameKey(name)
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
