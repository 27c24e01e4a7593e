// Name bindings held in memory, the reference the store contract is written against: one name to
// a skeleton, bindings never used in the group lapsing, the admin's bans and invites. Knows
// nothing of files or Redis.
import { nameKey, nameSkeleton } from '../../../shared/protocol/names.ts'
import type { ClaimResult, IdentityStore, Invite, NameBinding } from './ports.ts'

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

  function free(key: string): boolean {
    const binding = byName.get(key)
    if (!binding) return false
    byName.delete(key)
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
      if (held) return held.identityKey === identityKey ? 'known' : 'conflict'
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
        if (binding?.identityKey !== member.identityKey) continue
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
      if (held) bans.set(held.identityKey, nameKey(name))
      return held?.identityKey ?? null
    },
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
