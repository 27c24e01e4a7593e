// What both bench servers share with the orchestrator: the ready line on stdout and the `gc`
// command over IPC, so memory is read after a full collection rather than between two.
import { heapStats } from 'bun:jsc'
import * as v from 'valibot'
import { ServerCommandSchema, type ServerReady, type ServerReply } from './ipc.ts'
import { startLagMonitor } from './lag.ts'

export function announce(ready: ServerReady, stop: () => Promise<void> | void): void {
  const lag = startLagMonitor()
  process.on('message', (message: unknown) => {
    if (!v.is(ServerCommandSchema, message)) return
    if (message.type === 'lag') {
      const reply: ServerReply = { type: 'lag', lag: lag.take() }
      process.send?.(reply)
      return
    }
    Bun.gc(true)
    const stats = heapStats()
    const reply: ServerReply = {
      type: 'gc-done',
      heapBytes: stats.heapSize,
      objectCount: stats.objectCount,
      objectTypeCounts: stats.objectTypeCounts,
    }
    process.send?.(reply)
  })
  let stopping = false
  const quit = async () => {
    if (stopping) return
    stopping = true
    await stop()
    // A normal exit, so `--cpu-prof` gets to write its profile.
    process.exit(0)
  }
  process.on('SIGTERM', quit)
  process.on('SIGINT', quit)
  // The orchestrator going away closes the channel: do not outlive it.
  process.on('disconnect', quit)
  console.log(JSON.stringify(ready))
}
