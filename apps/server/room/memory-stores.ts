// The room's stores held in memory: the reference the store contract is written against, and what
// the room's own tests run on. Knows nothing of files, Redis or sockets; nothing outlives it.
import { nameKey } from '../../../shared/protocol/names.ts'
import type { LocalStores } from './local-backend.ts'
import type { ClaimResult, GroupRecord, LoggedEntry, UnstampedFrame } from './ports.ts'

/** Keeps the last `retention` log entries; older ones are gone, as in the other stores. */
export function createMemoryStores(retention: number): LocalStores {
  /** Case-folded name → the identity key bound to it. */
  const bindings = new Map<string, string>()
  /** The log from `start` on, in sequence order; entries before `start` are pruned. */
  let entries: LoggedEntry[] = []
  let start = 0
  let head = 0
  let group: GroupRecord | null = null

  function write(frame: UnstampedFrame): LoggedEntry {
    head += 1
    const entry = { seq: head, text: JSON.stringify({ ...frame, seq: head }) }
    entries.push(entry)
    if (entries.length - start > retention) start += 1
    // Dropped in bulk now and then, so pruning costs nothing per append.
    if (start > 1024 && start * 2 > entries.length) {
      entries = entries.slice(start)
      start = 0
    }
    return entry
  }

  const oldest = () => head - (entries.length - start) + 1

  return {
    identities: {
      claim(name, identityKey): ClaimResult {
        const key = nameKey(name)
        const bound = bindings.get(key)
        if (bound === undefined) bindings.set(key, identityKey)
        return bound === undefined ? 'new' : bound === identityKey ? 'known' : 'conflict'
      },
    },
    log: {
      append: async (frame) => write(frame),
      readAfter(afterSeq, limit) {
        const from = start + Math.max(0, afterSeq + 1 - oldest())
        return entries.slice(from, from + limit)
      },
      head: () => head,
      oldest,
    },
    groups: {
      // Copies in and out, as a store that serializes: nobody edits the stored record in place.
      load: () => structuredClone(group),
      found(record) {
        if (group) return false
        group = structuredClone(record)
        return true
      },
      acceptCommit(expected, next, frame) {
        if (group?.groupId !== expected.groupId || group.epoch !== expected.epoch) return 'stale'
        group = structuredClone(next)
        return write(frame)
      },
      dissolve(groupId) {
        if (group?.groupId === groupId) group = null
      },
    },
  }
}
