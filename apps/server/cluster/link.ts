// One instance's command connection to Redis as the cluster's parts share it: scripts, events, and
// the writes still in flight. Knows nothing of presence, leadership or the room.
import type { RedisClient } from 'bun'
import type { ClusterEvent } from './events.ts'
import { EVENTS_KEPT, KEYS } from './keys.ts'
import { sendCommand } from './replies.ts'

export interface ClusterLink {
  /** This instance's name in Redis. */
  readonly instance: string
  /** Runs one of scripts.ts's scripts; Redis runs it atomically. */
  run(script: string, keys: string[], args: (string | number)[]): Promise<unknown>
  /** Adds an already encoded event to the events stream, for every instance to read. */
  publish(text: string): Promise<unknown>
  emit(event: ClusterEvent): Promise<unknown>
  /** Reports the write's failure unless the instance is stopping, and lets `settled` wait for it. */
  track(write: Promise<unknown>): void
  /** Resolves once every tracked write has been answered. */
  settled(): Promise<void>
  report(error: unknown): void
  /** Whether the instance has stopped: its loops end, and failures are no longer news. */
  stopped(): boolean
  stop(): void
}

export function createClusterLink(
  command: RedisClient,
  instance: string,
  report: (error: unknown) => void,
): ClusterLink {
  const inFlight = new Set<Promise<unknown>>()
  let stopped = false
  const publish = (text: string) =>
    sendCommand(command, 'XADD', [KEYS.events, 'MAXLEN', '~', String(EVENTS_KEPT), '*', 'f', text])
  return {
    instance,
    run: (script, keys, args) =>
      sendCommand(command, 'EVAL', [script, String(keys.length), ...keys, ...args.map(String)]),
    publish,
    emit: (event) => publish(JSON.stringify(event)),
    track(write) {
      inFlight.add(write)
      write.then(
        () => inFlight.delete(write),
        (error) => {
          inFlight.delete(write)
          if (!stopped) report(error)
        },
      )
    },
    async settled() {
      await Promise.allSettled([...inFlight])
    },
    report,
    stopped: () => stopped,
    stop() {
      stopped = true
    },
  }
}
