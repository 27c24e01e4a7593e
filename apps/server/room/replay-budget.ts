// How much of the log one read hands back: a count and a byte budget, so a replay of a log of
// large files holds a few of them at a time, not a thousand. Pure.
import type { LoggedEntry } from './ports.ts'

/**
 * The leading entries whose frames fit in `maxBytes`, and always the first (an entry larger than
 * the budget still has to go out, alone).
 */
export function takeWithin<T extends LoggedEntry>(entries: readonly T[], maxBytes: number): T[] {
  let bytes = 0
  let count = 0
  for (const entry of entries) {
    bytes += entry.wire.length
    if (count > 0 && bytes > maxBytes) break
    count += 1
  }
  return entries.slice(0, count)
}
