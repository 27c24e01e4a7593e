// One process alone on bun:sqlite: the sqlite stores behind this process's own fan-out, presence
// and Delivery Service. Knows nothing of Redis, sockets or the room's rules.
import type { Limits } from '../../../shared/protocol/limits.ts'
import { createLocalBackend } from '../room/local-backend.ts'
import type { RoomBackend } from '../room/ports.ts'
import { openSqliteStore } from './sqlite-store.ts'

export interface EmbeddedBackendOptions {
  /** Where `chatbox.sqlite` lives; `:memory:` keeps it off the disk. */
  readonly dataDir: string
  readonly limits: Limits
}

/** Opens the store (a `StoreError` says why it cannot) and the backend over it. */
export function openEmbeddedBackend(options: EmbeddedBackendOptions): RoomBackend {
  const { limits } = options
  const store = openSqliteStore(options.dataDir, limits.logRetention, limits.writeBatchMs)
  return createLocalBackend({
    stores: store,
    limits,
    now: Date.now,
    close: () => store.close(),
  })
}
