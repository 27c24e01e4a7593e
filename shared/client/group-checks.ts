// What a client checks before it takes a commit or a Welcome: every leaf of the resulting tree
// must hold a key the server bound, under the name it bound that key to, and the change must be
// exactly what the server's frame says. Leaves are told apart by key, not by name: one person's
// devices share a name, each with its own key. Pure functions over leaves and frames; the trust
// book's pins are checked by the engine, which owns them.
import { sameKeys } from '../crypto/identity-key.ts'
import type { Member } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { GroupMember } from './mls.ts'

/**
 * Undefined when every leaf's key is one of `bindings`, under that binding's name, and no key is
 * in the tree twice; else the problem. One name on several leaves, each with its own bound key, is
 * one person's devices.
 */
export function unboundLeaf(
  leaves: readonly GroupMember[],
  bindings: ReadonlyMap<string, Member>,
): string | undefined {
  const seen = new Set<string>()
  for (const leaf of leaves) {
    if (seen.has(leaf.identityKey)) return `the group holds ${leaf.name}'s key twice`
    seen.add(leaf.identityKey)
    const bound = bindings.get(leaf.identityKey)
    if (!bound) return `the group holds a key of ${leaf.name} that the server never said was added`
    if (nameKey(bound.name) !== nameKey(leaf.name)) {
      return `the group holds ${leaf.name} with a key the server bound to ${bound.name}`
    }
  }
  return undefined
}

/** The members by identity key: what `unboundLeaf` looks a leaf up by. */
export function bindingsOf(members: Iterable<Member>): Map<string, Member> {
  const bindings = new Map<string, Member>()
  for (const member of members) bindings.set(member.identityKey, member)
  return bindings
}

/**
 * Whether an entry of a logged commit's `removes` stands for this leaf: its key, or its name in a
 * commit logged before a name could have several devices (a name is at most 24 characters, a key
 * 43, so an entry is never taken for the other).
 */
function removesLeaf(entry: string, leaf: Member): boolean {
  return entry === leaf.identityKey || nameKey(entry) === nameKey(leaf.name)
}

/**
 * The leaves of `before` that a logged commit's `removes` stand for, each entry taking one leaf:
 * keys first, as each names one leaf exactly, then legacy names, each taking a leaf of that name
 * still left. Undefined when an entry stands for no leaf left.
 */
export function leavesRemoved<Leaf extends Member>(
  before: readonly Leaf[],
  removes: readonly string[],
): Leaf[] | undefined {
  const left = [...before]
  const taken: Leaf[] = []
  const byKey = new Set(before.map((leaf) => leaf.identityKey))
  const ordered = [...removes].sort((a, b) => Number(!byKey.has(a)) - Number(!byKey.has(b)))
  for (const entry of ordered) {
    const index = left.findIndex((leaf) => removesLeaf(entry, leaf))
    const [leaf] = index < 0 ? [] : left.splice(index, 1)
    if (!leaf) return undefined
    taken.push(leaf)
  }
  return taken
}

/**
 * After a commit: the leaves it added must be exactly the server's `adds` (keys and names), the
 * leaves it removed exactly its `removes`, and every leaf bound — the ones from before the commit
 * by the tree this client already checked, the new ones by the server's frame.
 */
export function commitProblem(
  change: {
    before: readonly GroupMember[]
    after: readonly GroupMember[]
    added: readonly GroupMember[]
    removed: readonly GroupMember[]
  },
  claims: { adds: readonly Member[]; removes: readonly string[] },
): string | undefined {
  const claimed = bindingsOf(claims.adds)
  const addedSame =
    sameKeys(keysOf(change.added), keysOf(claims.adds)) &&
    change.added.every(
      (leaf) => nameKey(claimed.get(leaf.identityKey)?.name ?? '') === nameKey(leaf.name),
    )
  const claimedRemoved = leavesRemoved(change.before, claims.removes)
  const removedSame =
    claimedRemoved !== undefined && sameKeys(keysOf(claimedRemoved), keysOf(change.removed))
  if (!addedSame || !removedSame) {
    const names = (leaves: readonly Member[]) => leaves.map((leaf) => leaf.name).join(', ')
    const claimedNames = claims.removes.map(
      (entry) => change.before.find((leaf) => removesLeaf(entry, leaf))?.name ?? entry,
    )
    return (
      `the server says it adds [${names(claims.adds)}] and removes [${claimedNames.join(', ')}], ` +
      `but the commit adds [${names(change.added)}] and removes [${names(change.removed)}]`
    )
  }
  const removed = new Set(change.removed.map((leaf) => leaf.identityKey))
  const kept = change.before.filter((leaf) => !removed.has(leaf.identityKey))
  return unboundLeaf(change.after, bindingsOf([...kept, ...claims.adds]))
}

/** After a Welcome: the tree must be exactly the server's roster, key for key and name for name. */
export function welcomeProblem(
  leaves: readonly GroupMember[],
  roster: readonly Member[],
): string | undefined {
  if (leaves.length !== roster.length) {
    return `the Welcome's group has ${leaves.length} members, the server's ${roster.length}`
  }
  return unboundLeaf(leaves, bindingsOf(roster))
}

function keysOf(leaves: readonly Member[]): string[] {
  return leaves.map((leaf) => leaf.identityKey)
}
