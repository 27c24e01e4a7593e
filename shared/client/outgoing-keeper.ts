// Where the outbox keeps own messages on their way between sessions: the history store, beside
// the history and sealed the same way, for the same owner. Knows nothing of MLS or sockets.
import type { OutboxKeeper } from './outbox.ts'
import type { HistoryOwner, HistoryStore } from './stores.ts'

/**
 * `keep` false: the device keeps no history, so none of this either, and it forgets what an
 * earlier session kept, as it forgets that history.
 */
export function outgoingKeeper(
  store: HistoryStore,
  owner: () => Promise<HistoryOwner>,
  keep: boolean,
): OutboxKeeper {
  if (!keep) {
    return {
      load: async () => {
        await store.keepOutgoing(await owner(), [])
        return []
      },
      save: async () => {},
    }
  }
  return {
    load: async () => store.loadOutgoing(await owner()),
    save: async (records) => store.keepOutgoing(await owner(), records),
  }
}
