// Name bindings held in memory, the reference the store contract is written against: one name to
// a skeleton, bindings never used in the group lapsing, the admin's bans and invites. Knows
// nothing of files or Redis.
import { nameKey, nameSkeleton } from '../../../shared/protocol/names.ts'
import { deviceLinks } from './device-book.ts'
import type { ClaimResult, DeviceRecord, IdentityStore, Invite, NameBinding } from './ports.ts'

interface Binding extends NameBinding {
  readonly skeleton: string
}

export function createMemoryIdentities(): IdentityStore {
  /** Case-folded name → its binding. */
  const byName = new Map<string, Binding>()
  /** Skeleton → the case-folded name bound with it. */
  const bySkeleton = new Map<string, string>()
  /** Names not yet used in the group, in the order they were bound: the oldest lapse first. */
  const unconfirmed = new Set<string>()
  /** Banned identity key → the case-folded name it held when banned. */
  const bans = new Map<string, string>()
  const invites = new Map<string, Invite>()
  /** Case-folded name → its linked devices by key; they count only while the name is bound. */
  const devicesOf = new Map<string, Map<string, DeviceRecord>>()
  /** Unlinked device key → the case-folded name it was unlinked from. */
  const unlinked = new Map<string, string>()

  function linked(key: string): Map<string, DeviceRecord> {
    let devices = devicesOf.get(key)
    if (!devices) {
      devices = new Map()
      devicesOf.set(key, devices)
    }
    return devices
  }

  function isKnownKey(identityKey: string): boolean {
    for (const binding of byName.values()) if (binding.identityKey === identityKey) return true
    for (const devices of devicesOf.values()) if (devices.has(identityKey)) return true
    return false
  }

  function free(key: string): boolean {
    const binding = byName.get(key)
    if (!binding) return false
    byName.delete(key)
    devicesOf.delete(key)
    if (bySkeleton.get(binding.skeleton) === key) bySkeleton.delete(binding.skeleton)
    unconfirmed.delete(key)
    return true
  }

  function lapse(before: number): void {
    for (const key of unconfirmed) {
      const binding = byName.get(key)
      if (binding && binding.boundAt >= before) return
      free(key)
    }
  }

  return {
    claim(name, identityKey, at, terms = {}): ClaimResult {
      if (terms.unusedBefore !== undefined) lapse(terms.unusedBefore)
      const key = nameKey(name)
      const held = byName.get(key)
      if (held) {
        const known = held.identityKey === identityKey || devicesOf.get(key)?.has(identityKey)
        return known ? 'known' : 'conflict'
      }
      const skeleton = nameSkeleton(name)
      if (bySkeleton.has(skeleton)) return 'confusable'
      if (terms.mayBind === false) return 'limited'
      byName.set(key, { name, identityKey, skeleton, boundAt: at, confirmedAt: null })
      bySkeleton.set(skeleton, key)
      unconfirmed.add(key)
      return 'new'
    },
    confirm(members, at) {
      for (const member of members) {
        const key = nameKey(member.name)
        const binding = byName.get(key)
        if (!binding) continue
        // The name's own key, or a device linked to it: either way the name is in use.
        const holds =
          binding.identityKey === member.identityKey || devicesOf.get(key)?.has(member.identityKey)
        if (!holds) continue
        unconfirmed.delete(key)
        byName.set(key, { ...binding, confirmedAt: at })
      }
    },
    bindings: () =>
      [...byName.values()].map(({ name, identityKey, boundAt, confirmedAt }) => ({
        name,
        identityKey,
        boundAt,
        confirmedAt,
      })),
    release: (name) => free(nameKey(name)),
    ban(name, _at) {
      const held = byName.get(nameKey(name))
      if (!held) return null
      bans.set(held.identityKey, nameKey(name))
      for (const device of devicesOf.get(nameKey(name))?.keys() ?? [])
        bans.set(device, nameKey(name))
      return held.identityKey
    },
    linkDevice(name, device, approval, at) {
      const held = byName.get(nameKey(name))
      if (!held) return { kind: 'refused', reason: 'unbound' }
      const devices = linked(nameKey(name))
      const decided = deviceLinks(held.identityKey, [...devices.values()], approval)
      if (decided.kind === 'linked') {
        if (isKnownKey(device)) return { kind: 'refused', reason: 'taken' }
        devices.set(device, { identityKey: device, links: decided.links, linkedAt: at })
        unlinked.delete(device)
      }
      return decided
    },
    devices(name) {
      const held = byName.get(nameKey(name))
      if (!held) return []
      const first = { identityKey: held.identityKey, links: [], linkedAt: held.boundAt }
      return [first, ...(devicesOf.get(nameKey(name))?.values() ?? [])]
    },
    unlinkDevice(name, device) {
      if (!devicesOf.get(nameKey(name))?.delete(device)) return false
      unlinked.set(device, nameKey(name))
      return true
    },
    wasUnlinked: (name, device) => unlinked.get(device) === nameKey(name),
    unban(name) {
      let lifted = false
      for (const [key, bannedName] of bans) {
        if (bannedName === nameKey(name)) lifted = bans.delete(key)
      }
      return lifted
    },
    isBanned: (identityKey) => bans.has(identityKey),
    addInvite(invite) {
      invites.set(invite.codeDigest, invite)
    },
    takeInvite(codeDigest, name, at) {
      for (const [digest, { expiresAt }] of invites) if (expiresAt <= at) invites.delete(digest)
      const invite = invites.get(codeDigest)
      if (!invite || nameKey(invite.name) !== nameKey(name)) return null
      invites.delete(codeDigest)
      return invite
    },
  }
}
