// What "stored" means when Redis has replicas. Redis answers a write once its primary holds it and
// copies it to the replicas afterwards, so a primary that dies can take answered writes with it.
// WAIT holds a connection until enough replicas hold everything that connection wrote: the log's
// writes wait for it, and nothing is shown from the log before the replicas hold it.
// Knows no room logic and no keys but the probe's.
import type { RedisClient } from 'bun'
import { KEYS } from './keys.ts'
import { IntegerReply, parseReply, sendCommand } from './replies.ts'

export interface ReplicaWait {
  /** How many replicas must hold a logged entry before it is acknowledged or shown; 0 for none. */
  readonly replicas: number
  /** How long to wait for them; then the write is refused (`unavailable`) or the read waits on. */
  readonly timeoutMs: number
}

/** Fewer replicas than asked for confirmed a write in time: it may not survive a failover. */
export class NotReplicatedError extends Error {
  /** An ERR_REDIS code: the server says "refused for now" in one line, as when Redis is away. */
  readonly code = 'ERR_REDIS_NOT_REPLICATED'
}

/** One connection's waits for its replicas. */
export interface ReplicaWaiter {
  /** Resolves as `write` (sent on this connection) does, once enough replicas hold it. */
  after<T>(write: Promise<T>): Promise<T>
  /**
   * Resolves once enough replicas hold everything this connection has read so far, which other
   * connections may have written: a write after the read lands after it in the one replication
   * stream, so once the replicas hold that write they hold what was read.
   */
  reads(): Promise<void>
}

/**
 * How many WAITs an instance starting gives its replicas to show they hold the log: one slow to
 * answer once (a loaded host, a replica that just synced) is not one that lacks the log, and an
 * instance that gave up on it would not start at all. A replica that does lack it is refused after
 * this many timeouts.
 */
export const STARTUP_READ_TRIES = 5

/**
 * `reads()`, tried up to STARTUP_READ_TRIES times while the replicas are slow to confirm; each
 * try that timed out is told to `slow` before the next.
 */
export async function replicasHoldReads(
  replicas: ReplicaWaiter,
  slow: (error: NotReplicatedError) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await replicas.reads()
    } catch (error) {
      if (!(error instanceof NotReplicatedError) || attempt >= STARTUP_READ_TRIES) throw error
      slow(error)
    }
  }
}

export const NO_REPLICA_WAIT: ReplicaWaiter = { after: (write) => write, reads: async () => {} }

export function createReplicaWaiter(redis: RedisClient, wait: ReplicaWait): ReplicaWaiter {
  if (wait.replicas === 0) return NO_REPLICA_WAIT
  const args = [String(wait.replicas), String(wait.timeoutMs)]
  let sent: Promise<void> | undefined
  let queued: Promise<void> | undefined

  async function waitOnce(): Promise<void> {
    const confirmed = parseReply(IntegerReply, await sendCommand(redis, 'WAIT', args), 'WAIT')
    if (confirmed < wait.replicas) {
      throw new NotReplicatedError(
        `${confirmed} of ${wait.replicas} Redis replicas confirmed the write within ${wait.timeoutMs} ms`,
      )
    }
  }

  /**
   * A WAIT that covers every write sent on the connection so far. Redis runs nothing else on a
   * connection while a WAIT blocks it, so one at a time: writes made meanwhile share the next one,
   * and the heartbeats between them are held up by one timeout at most, however many messages
   * arrive while the replicas are away.
   */
  function covering(): Promise<void> {
    if (!sent) {
      sent = waitOnce().finally(() => {
        sent = undefined
      })
      return sent
    }
    queued ??= sent
      .catch(() => {})
      .then(() => {
        queued = undefined
        return covering()
      })
    return queued
  }

  return {
    async after(write) {
      const confirmed = covering()
      // A failed write makes the wait moot; its rejection is the one to report.
      confirmed.catch(() => {})
      const result = await write
      await confirmed
      return result
    },
    async reads() {
      await Promise.all([sendCommand(redis, 'INCR', [KEYS.replicationProbe]), covering()])
    },
  }
}
