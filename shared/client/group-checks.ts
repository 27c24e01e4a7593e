// What a client checks before it takes a commit or a Welcome: every leaf of the resulting tree
// must be a name the server bound, with exactly that key, and the change must be exactly what the
// server's frame says. Pure functions over leaves and frames; the trust book's pins are checked by
// the engine, which owns them.
import type { Member } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { GroupMember } from './mls.ts'

/** Undefined when every leaf is one of `bindings` with its key, each name once; else the problem. */
export function unboundLeaf(
  leaves: readonly GroupMember[],
  bindings: ReadonlyMap<string, Member>,
): string | undefined {
  const seen = new Set<string>()
  for (const leaf of leaves) {
    const key = nameKey(leaf.name)
    if (seen.has(key)) return `the group holds ${leaf.name} twice`
    seen.add(key)
    const bound = bindings.get(key)
    if (!bound) return `the group holds ${leaf.name}, whom the server never said was added`
    if (bound.identityKey !== leaf.identityKey) {
      return `the group holds ${leaf.name} with a key other than the one the server bound`
    }
  }
  return undefined
}

export function bindingsOf(members: Iterable<Member>): Map<string, Member> {
  const bindings = new Map<string, Member>()
  for (const member of members) bindings.set(nameKey(member.name), member)
  return bindings
}

/**
 * After a commit: the leaves it added must be exactly the server's `adds` (names and keys), the
 * names it removed exactly its `removes`, and every leaf bound — the ones from before the commit
 * by the tree this client already checked, the new ones by the server's frame.
 */
export function commitProblem(
  change: {
    before: readonly GroupMember[]
    after: readonly GroupMember[]
    added: readonly GroupMember[]
    removed: readonly string[]
  },
  claims: { adds: readonly Member[]; removes: readonly string[] },
): string | undefined {
  const claimed = bindingsOf(claims.adds)
  const addedSame =
    change.added.length === claims.adds.length &&
    change.added.every((leaf) => claimed.get(nameKey(leaf.name))?.identityKey === leaf.identityKey)
  const removedSame =
    change.removed.length === claims.removes.length &&
    sortedKeys(change.removed) === sortedKeys(claims.removes)
  if (!addedSame || !removedSame) {
    return (
      `the server says it adds [${claims.adds.map((member) => member.name).join(', ')}] and ` +
      `removes [${claims.removes.join(', ')}], but the commit adds ` +
      `[${change.added.map((leaf) => leaf.name).join(', ')}] and removes [${change.removed.join(', ')}]`
    )
  }
  const removed = new Set(change.removed.map(nameKey))
  const kept = change.before.filter((leaf) => !removed.has(nameKey(leaf.name)))
  return unboundLeaf(change.after, bindingsOf([...kept, ...claims.adds]))
}

/** After a Welcome: the tree must be exactly the server's roster, name for name and key for key. */
export function welcomeProblem(
  leaves: readonly GroupMember[],
  roster: readonly Member[],
): string | undefined {
  if (leaves.length !== roster.length) {
    return `the Welcome's group has ${leaves.length} members, the server's ${roster.length}`
  }
  return unboundLeaf(leaves, bindingsOf(roster))
}

function sortedKeys(names: readonly string[]): string {
  return names.map(nameKey).sort().join('\n')
}
