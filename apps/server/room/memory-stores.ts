// The room's stores held in memory: the reference the store contract is written against, and what
// the room's own tests run on. Knows nothing of files, Redis or sockets; nothing outlives it.
import { encodeFrame } from '../../../shared/protocol/codec.ts'
import type { LoggedFrame } from '../../../shared/protocol/frames.ts'
import type { LogRetention } from '../../../shared/protocol/limits.ts'
import type { LocalStores } from './local-backend.ts'
import { createMemoryIdentities } from './memory-identities.ts'
import type { GroupRecord, LoggedEntry, UnstampedFrame } from './ports.ts'
import { takeWithin } from './replay-budget.ts'

interface HeldEntry extends LoggedEntry {
  readonly at: number
}

/** Keeps the log within `retention` (entries, bytes, age); older ones are gone, as in the other stores. */
export function createMemoryStores(retention: LogRetention): LocalStores {
  /** The log from `start` on, in sequence order; entries before `start` are pruned. */
  let entries: HeldEntry[] = []
  let start = 0
  /** Bytes held from `start` on. */
  let bytes = 0
  let head = 0
  let group: GroupRecord | null = null

  function write(frame: UnstampedFrame): LoggedEntry {
    head += 1
    const wire = encodeFrame({ ...frame, seq: head } as LoggedFrame)
    const entry = { seq: head, wire, at: frame.at }
    entries.push(entry)
    bytes += entry.wire.length
    const oldestKept = frame.at - retention.ageMs
    for (let first = entries[start]; first && first !== entry; first = entries[start]) {
      const over =
        entries.length - start > retention.entries ||
        bytes > retention.bytes ||
        first.at < oldestKept
      if (!over) break
      bytes -= first.wire.length
      start += 1
    }
    // Dropped in bulk now and then, so pruning costs nothing per append.
    if (start > 1024 && start * 2 > entries.length) {
      entries = entries.slice(start)
      start = 0
    }
    return { seq: entry.seq, wire }
  }

  const oldest = () => head - (entries.length - start) + 1

  return {
    identities: createMemoryIdentities(),
    log: {
      append: async (frame) => write(frame),
      readAfter(afterSeq, limit, maxBytes = Number.POSITIVE_INFINITY) {
        const from = start + Math.max(0, afterSeq + 1 - oldest())
        return takeWithin(entries.slice(from, from + limit), maxBytes).map(({ seq, wire }) => ({
          seq,
          wire,
        }))
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
