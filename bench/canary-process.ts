// Starts bench/canary.ts pinned beside the server and reads its lag, minute by minute.
import * as v from 'valibot'
import { type Lag, LagSchema } from './ipc.ts'
import { type Placement, pinned } from './proc.ts'

export type CanaryLag = Lag

export interface Canary {
  /** Its lag since the last call (see lag.ts). */
  take(): Promise<CanaryLag>
  stop(): Promise<void>
}

export function startCanary(placement: Placement): Canary {
  const waiting: Array<(message: unknown) => void> = []
  const script = new URL('./canary.ts', import.meta.url).pathname
  const child = Bun.spawn(pinned(placement.serverCores, ['bun', script]), {
    stdin: 'ignore',
    stdout: 'inherit',
    stderr: 'inherit',
    ipc: (message) => waiting.shift()?.(message),
  })
  return {
    async take() {
      const { promise, resolve } = Promise.withResolvers<unknown>()
      waiting.push(resolve)
      child.send('take')
      return v.parse(LagSchema, await promise)
    },
    async stop() {
      child.kill('SIGTERM')
      await child.exited
    },
  }
}
