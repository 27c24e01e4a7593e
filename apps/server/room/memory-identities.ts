// Name bindings held in memory, the reference the store contract is written against: one name to
// a skeleton, and bindings never used in the group lapsing. Knows nothing of files or Redis.
import { nameKey, nameSkeleton } from '../../../shared/protocol/names.ts'
import type { ClaimResult, IdentityStore } from './ports.ts'

interface Binding {
  readonly identityKey: string
  readonly skeleton: string
  readonly boundAt: number
}

export function createMemoryIdentities(): IdentityStore {
  /** Case-folded name → its binding. */
  const byName = new Map<string, Binding>()
  /** Skeleton → the case-folded name bound with it. */
  const bySkeleton = new Map<string, string>()
  /** Names not yet used in the group, in the order they were bound: the oldest lapse first. */
  const unconfirmed = new Set<string>()

  function free(key: string): void {
    const binding = byName.get(key)
    if (!binding) return
    byName.delete(key)
    if (bySkeleton.get(binding.skeleton) === key) bySkeleton.delete(binding.skeleton)
    unconfirmed.delete(key)
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
      byName.set(key, { identityKey, skeleton, boundAt: at })
      bySkeleton.set(skeleton, key)
      unconfirmed.add(key)
      return 'new'
    },
    confirm(members) {
      for (const member of members) {
        const key = nameKey(member.name)
        if (byName.get(key)?.identityKey === member.identityKey) unconfirmed.delete(key)
      }
    },
  }
}
