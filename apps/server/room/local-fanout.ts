// Fan-out within one process: publishing is delivering. The Redis fan-out replaces it when
// several instances share a room.
import type { Fanout } from './ports.ts'

export function createLocalFanout(): Fanout {
  const subscribers: Array<(text: string) => void> = []
  return {
    publish(text) {
      for (const deliver of subscribers) deliver(text)
    },
    subscribe(deliver) {
      subscribers.push(deliver)
    },
  }
}
