// Fan-out within one process: publishing is delivering. The Redis fan-out replaces it when
// several instances share a room.
import type { Fanout, LocalMembers } from './ports.ts'

/** `head` is the log's head at start: members admitted before the first message resume from it. */
export function createLocalFanout(head = 0): Fanout {
  const subscribers: LocalMembers[] = []
  let delivered = head
  return {
    publishLogged(entry) {
      delivered = entry.seq
      for (const local of subscribers) local.deliver(entry.wire)
    },
    publish(text) {
      for (const local of subscribers) local.announce(text)
    },
    subscribe(local) {
      subscribers.push(local)
    },
    deliveredHead: () => delivered,
  }
}
