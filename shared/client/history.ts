// The messages this device showed, kept for the next session within the limits (count and age):
// loaded once, pruned, then appended to as the room's log is read. The store seals them at rest;
// this decides what is kept and turns records back into the events views already draw. Knows
// nothing of files, IndexedDB, sockets or views.
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import { nameKey } from '../protocol/names.ts'
import { EventHub } from './event-hub.ts'
import type { FileEvent, MessageEvent } from './events.ts'
import type { HistoryOwner, HistoryRecord, HistoryStore } from './stores.ts'

export const DAY_MS = 24 * 60 * 60 * 1000

export interface HistoryLimits {
  /** The newest this many messages are kept; 0 keeps none and forgets what was kept. */
  readonly maxMessages: number
  /** Older messages are forgotten at the next start. */
  readonly maxAgeMs: number
}

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { maxMessages: 1000, maxAgeMs: 30 * DAY_MS }

/**
 * Of a file, the first this many bytes are kept (the whole file when smaller): enough for the
 * preview both views show and to save a typical note again. 1,000 such files take at most ~22 MB
 * in the browser, ~29 MB in the terminal's file (base64 twice).
 */
export const HISTORY_FILE_BYTES = 16 * 1024

/** A message or file as it was shown, to be shown again. */
export type ShownMessage = MessageEvent | FileEvent

export interface History {
  /** Waits for the kept history to load (never fails): it tells which messages were shown. */
  ready(): Promise<void>
  /** What earlier sessions on this device showed, oldest first; empty once cleared. */
  earlier(): Promise<ShownMessage[]>
  /** Passes on what the log shows, keeping each message; drops one this device already showed. */
  gate(hub: EventHub): EventHub
  /** Forgets everything kept; resolves with how many messages that was. */
  clear(): Promise<number>
  /** Resolves once every message passed on so far is written (before the process exits). */
  idle(): Promise<void>
}

export interface HistoryOptions {
  readonly store: HistoryStore
  readonly owner: () => Promise<HistoryOwner>
  readonly limits: HistoryLimits
  readonly now: () => number
}

export function createHistory(options: HistoryOptions): History {
  const { store, limits } = options
  const off = limits.maxMessages <= 0
  /** Messages kept, to know one the log shows again (a resume from an older saved state). */
  const known = new Set<string>()
  // The oldest fall out: a replay reaches back only as far as the group state saved last.
  const knownMax = 2 * Math.max(0, limits.maxMessages) + 4096
  function remember(key: string): void {
    known.add(key)
    if (known.size > knownMax) known.delete(known.values().next().value as string)
  }
  let kept = 0
  let earlier: ShownMessage[] = []
  let owner: HistoryOwner | undefined
  // Loads, appends, prunes and clears run one after another, in call order.
  let tail: Promise<unknown> = Promise.resolve()
  function queued<T>(task: () => Promise<T>): Promise<T> {
    const result = tail.then(task)
    tail = result.catch(() => {})
    return result
  }

  const loaded = queued(async () => {
    owner = await options.owner()
    const all = await store.load(owner)
    const within = prune(all)
    if (within.length < all.length) await store.replace(owner, within)
    for (const record of within) remember(shownKey(record))
    kept = within.length
    earlier = within.map(eventOf)
  }).catch(() => {
    // History is a convenience: unreadable, it is empty, and the chat goes on.
    owner = undefined
  })

  function prune(records: readonly HistoryRecord[]): HistoryRecord[] {
    if (off) return []
    const since = options.now() - limits.maxAgeMs
    return records.filter((record) => record.at >= since).slice(-limits.maxMessages)
  }

  function keep(event: ShownMessage): void {
    const current = owner
    if (off || !current) return
    void queued(async () => {
      await store.append(current, recordOf(event))
      kept += 1
      // Pruned now and then rather than on every message: appends stay appends.
      if (kept >= 2 * limits.maxMessages) {
        const within = prune(await store.load(current))
        await store.replace(current, within)
        kept = within.length
      }
    }).catch(() => {})
  }

  return {
    ready: () => loaded,
    async earlier() {
      await loaded
      return earlier
    },
    gate(hub) {
      const gate = new EventHub()
      gate.on((event) => {
        if (event.type === 'message' || event.type === 'file') {
          const key = shownKey(event)
          if (known.has(key)) return
          remember(key)
          keep(event)
        }
        hub.emit(event)
      })
      return gate
    },
    idle: () => queued(async () => {}),
    clear: () =>
      queued(async () => {
        await loaded
        const forgotten = kept
        if (owner) await store.clear(owner)
        kept = 0
        earlier = []
        return forgotten
      }),
  }
}

/** The sender is part of it: nobody can hide a message by sending another under its id. */
function shownKey(message: { readonly id: string; readonly from: string }): string {
  return `${nameKey(message.from)}\n${message.id}`
}

function recordOf(event: ShownMessage): HistoryRecord {
  const { id, seq, at, from, own, claimedBy } = event
  const common = { id, seq, at, from, own, ...(claimedBy === undefined ? {} : { claimedBy }) }
  if (event.type === 'message') return { kind: 'message', ...common, text: event.text }
  const { name, size, truncated, sha256, bytes } = event
  const kept = encodeBase64url(bytes.subarray(0, HISTORY_FILE_BYTES))
  return { kind: 'file', ...common, name, size, truncated, sha256, kept }
}

/** A kept file shows as truncated when only its head was kept: that is all this device has. */
function eventOf(record: HistoryRecord): ShownMessage {
  const { id, seq, at, from, own, claimedBy } = record
  const common = { id, seq, at, from, own, ...(claimedBy === undefined ? {} : { claimedBy }) }
  if (record.kind === 'message') return { type: 'message', ...common, text: record.text }
  const bytes = decodeBase64url(record.kept)
  const truncated = record.truncated || bytes.length < record.size
  const { name, size, sha256 } = record
  return { type: 'file', ...common, name, size, truncated, sha256, bytes }
}
