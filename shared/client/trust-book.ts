// Trust on first use, per name: remembers the first key seen for each peer, flags a different one
// as a change the user must accept, and keeps who was verified. Over a TrustStore; no I/O here.
import { nameKey } from '../protocol/names.ts'
import type { TrustRecord, TrustStore } from './stores.ts'

export type KeyObservation = 'new' | 'known' | 'changed'

export interface KeyChange {
  readonly name: string
  readonly previousKey: string
  readonly newKey: string
}

export interface TrustBook {
  /** What `observe` would answer, without recording anything. */
  check(name: string, identityKey: string): Promise<KeyObservation>
  /** Records a first sighting; a different key than the recorded one becomes a pending change. */
  observe(name: string, identityKey: string): Promise<KeyObservation>
  /** Changes the user has not accepted yet; sending waits while there are any. */
  pendingChanges(): KeyChange[]
  /** Takes the changed key as the one to trust from now on (not verified). */
  accept(name: string): Promise<boolean>
  markVerified(name: string): Promise<boolean>
  get(name: string): Promise<TrustRecord | undefined>
}

export function createTrustBook(store: TrustStore, now: () => number = Date.now): TrustBook {
  const changes = new Map<string, KeyChange>()

  return {
    async check(name, identityKey) {
      const record = await store.get(name)
      if (!record) return 'new'
      return record.identityKey === identityKey ? 'known' : 'changed'
    },
    async observe(name, identityKey) {
      const record = await store.get(name)
      if (!record) {
        await store.put({ name, identityKey, firstSeen: now(), verified: false })
        return 'new'
      }
      if (record.identityKey === identityKey) {
        changes.delete(nameKey(name))
        return 'known'
      }
      changes.set(nameKey(name), { name, previousKey: record.identityKey, newKey: identityKey })
      return 'changed'
    },
    pendingChanges: () => [...changes.values()],
    async accept(name) {
      const change = changes.get(nameKey(name))
      if (!change) return false
      await store.put({ name, identityKey: change.newKey, firstSeen: now(), verified: false })
      changes.delete(nameKey(name))
      return true
    },
    async markVerified(name) {
      const record = await store.get(name)
      if (!record || changes.has(nameKey(name))) return false
      await store.put({ ...record, verified: true })
      return true
    },
    get: (name) => store.get(name),
  }
}
