// The load generator, one process of it per share of the connections, pinned away from the server
// so its work is never charged there. It does what the orchestrator asks over IPC (join members,
// open idle connections, send on an open-loop clock, run closed-loop bursts) and times every
// delivery of the bench's own frames, whose header carries step, sender, sequence and send time.
// This file only takes the commands: load-client/ has the connections, the load and the counts.
import * as v from 'valibot'
import { type ClientCommand, ClientCommandSchema, type ClientReply } from './ipc.ts'
import { startLagMonitor } from './lag.ts'
import { churn } from './load-client/churn.ts'
import {
  authIdle,
  endpointOf,
  inParallel,
  joinMembers,
  openIdle,
  requireTarget,
  setup,
} from './load-client/connections.ts'
import { bursts, collect, sendOpenLoop } from './load-client/drive.ts'
import { arm } from './load-client/tally.ts'

const lag = startLagMonitor()

async function handle(command: ClientCommand): Promise<ClientReply> {
  const started = performance.now()
  const ok = (): ClientReply => ({ type: 'ok', ms: performance.now() - started })
  switch (command.type) {
    case 'setup':
      setup(command.target, command.messageBytes)
      return ok()
    case 'join-members':
      await joinMembers(command)
      return ok()
    case 'open-idle': {
      const result = await inParallel(command.count, command.concurrency, (index) =>
        openIdle(`${command.prefix}${index}`),
      )
      if (result.firstError) console.error(`load client: ${result.firstError}`)
      return {
        type: 'opened',
        ms: performance.now() - started,
        opened: result.done,
        failed: result.failed,
      }
    }
    case 'auth-idle':
      if (requireTarget().kind === 'reference') return ok()
      return { type: 'ok', ms: await authIdle(command.concurrency) }
    case 'arm':
      arm(command.step, command.senders)
      return ok()
    case 'send': {
      const total = command.count ?? Math.round((command.rate * (command.durationMs ?? 0)) / 1000)
      return { type: 'sent', ...(await sendOpenLoop(command.step, command.rate, total)) }
    }
    case 'collect':
      return collect(command.expectedPerReceiver, command.timeoutMs)
    case 'bursts':
      return bursts(command.step, command.durationMs)
    case 'lag':
      return { type: 'lag', lag: lag.take() }
    case 'churn':
      return { type: 'churned', ...(await churn(endpointOf(requireTarget()), command)) }
  }
}

// One command at a time, in order: the orchestrator matches replies to requests by position.
let queue: Promise<void> = Promise.resolve()
process.on('message', (message: unknown) => {
  queue = queue.then(async () => {
    let reply: ClientReply
    const parsed = v.safeParse(ClientCommandSchema, message)
    if (!parsed.success) {
      reply = { type: 'failed', message: 'not a command' }
    } else {
      try {
        reply = await handle(parsed.output)
      } catch (error) {
        reply = { type: 'failed', message: (error as Error).message }
      }
    }
    process.send?.(reply)
  })
})
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))
