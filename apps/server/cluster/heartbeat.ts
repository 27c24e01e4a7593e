// This instance's heartbeat: says it is alive, reaps instances that stopped saying so, and renews
// or takes the leader lease, all in one script run. Knows nothing of what leading means.
import * as v from 'valibot'
import { EVENTS_KEPT, KEYS } from './keys.ts'
import type { ClusterLink } from './link.ts'
import { parseReply } from './replies.ts'
import { HEARTBEAT } from './scripts.ts'

/** HEARTBEAT's answer: was this instance new to the set, does it hold the lease (1 or 0 each). */
const HeartbeatReply = v.tuple([v.picklist([0, 1]), v.picklist([0, 1])])

export interface HeartbeatOptions {
  readonly link: ClusterLink
  /** How often this instance says it is alive and renews the lease. */
  readonly heartbeatMs: number
  /** An instance silent this long is taken for dead: its members are announced as left. */
  readonly instanceTimeoutMs: number
  /** How long the leader's lease lasts without renewal. */
  readonly leaseMs: number
  /** This instance was taken for dead, and is back: its members must arrive again. */
  readonly rejoined: () => Promise<void>
  /** Whether this instance holds the lease, after every beat that went through. */
  readonly leased: (holds: boolean) => Promise<void>
  /** A beat failed: without Redis this instance cannot know it still leads. */
  readonly lost: () => void
  /** Whether failures are being reported already (the reader lost Redis too). */
  readonly quiet: () => boolean
}

export interface Heartbeat {
  /** Settles once the first beat has been answered, or has failed. */
  readonly first: Promise<void>
  stop(): void
}

export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { link } = options
  let registered = false
  let running = false
  /** Since when heartbeats have gone through without a failure (this process's clock). */
  let healthySince: number | undefined

  async function beat(): Promise<void> {
    if (running || link.stopped()) return
    running = true
    try {
      const reply = await link.run(
        HEARTBEAT,
        [KEYS.instances, KEYS.presence, KEYS.events, KEYS.leader],
        [
          EVENTS_KEPT,
          link.instance,
          options.instanceTimeoutMs,
          options.leaseMs,
          Math.round(performance.now() - (healthySince ?? performance.now())),
        ],
      )
      const [added, leads] = parseReply(HeartbeatReply, reply, 'HEARTBEAT')
      healthySince ??= performance.now()
      // Silent long enough to be taken for dead (a pause, a partition): this instance's members
      // were announced as left. They are still here, so they arrive again.
      if (added === 1 && registered) await options.rejoined()
      registered = true
      await options.leased(leads === 1)
    } catch (error) {
      healthySince = undefined
      options.lost()
      if (!link.stopped() && !options.quiet()) link.report(error)
    } finally {
      running = false
    }
  }

  let timer: ReturnType<typeof setInterval> | undefined
  let stopped = false
  const first = beat().then(() => {
    if (!stopped) timer = setInterval(() => void beat(), options.heartbeatMs)
  })
  return {
    first,
    stop() {
      stopped = true
      clearInterval(timer)
    },
  }
}
