// The room's stores in Redis, shared by every instance: name bindings in a hash, the ordered log
// in a stream numbered by one counter, the MLS group record changed only by compare-and-set.
// No sockets and no room logic here; the scripts make each change atomic.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import { storedJsonToWire } from '../../../shared/protocol/codec.ts'
import type { LogRetention } from '../../../shared/protocol/limits.ts'
import {
  type GroupRecord,
  GroupRecordSchema,
  type GroupStore,
  type IdentityStore,
  type LoggedEntry,
  type RoomLog,
  type UnstampedFrame,
} from '../room/ports.ts'
import { KEYS } from './keys.ts'
import { createRedisIdentities } from './redis-identities.ts'
import { NO_REPLICA_WAIT, type ReplicaWaiter } from './replication.ts'
import {
  decodeLogEntry,
  IntegerReply,
  parseReply,
  query,
  StreamEntriesReply,
  sendCommand,
  TextReply,
} from './replies.ts'
import { ACCEPT_COMMIT, APPEND, DISSOLVE, READ_AFTER } from './scripts.ts'

export interface RedisStores {
  readonly identities: IdentityStore
  readonly log: RoomLog
  readonly groups: GroupStore
  /**
   * Sends the appends waiting for the end of this turn now. Whatever is sent next on the same
   * connection then lands after them: a member's commit never overtakes its own messages.
   */
  flush(): void
  /** Resolves once every append handed out so far has been answered. */
  settled(): Promise<void>
}

/** The frame as JSON without its closing brace: the script appends `,"seq":N}`. */
function unstamped(frame: object): string {
  return JSON.stringify(frame).slice(0, -1)
}

/**
 * The entry as logged. Its wire form is made only when asked for, which here it seldom is: every
 * instance delivers what its follower reads, not what its own appends return.
 */
function stamped(prefix: string, seq: number): LoggedEntry {
  const text = `${prefix},"seq":${seq}}`
  return {
    seq,
    get wire() {
      return storedJsonToWire(text)
    },
  }
}

/** Only the id matters of a record stored before commits were checked: it is dissolved. */
const LegacyGroupSchema = v.object({ groupId: v.string() })

/**
 * `replicas`: waits on `redis` for its replicas, which must hold an appended entry or an accepted
 * commit before it resolves; one they have not confirmed in time is a rejection (replication.ts).
 */
export function createRedisStores(
  redis: RedisClient,
  retention: LogRetention,
  replicas: ReplicaWaiter = NO_REPLICA_WAIT,
): RedisStores {
  const kept = [retention.entries, retention.bytes, retention.ageMs]
  const eval_ = async (script: string, keys: string[], args: (string | number)[]) =>
    parseReply(
      IntegerReply,
      await sendCommand(redis, 'EVAL', [script, String(keys.length), ...keys, ...args.map(String)]),
      'EVAL',
    )

  const identities = createRedisIdentities(redis)

  // Appends wait for the end of the event-loop turn and go to Redis as one script, as the SQLite
  // store batches its writes: one round trip for a turn's messages instead of one each.
  let pending: Array<{
    readonly prefix: string
    readonly at: number
    readonly resolve: (entry: LoggedEntry) => void
    readonly reject: (error: unknown) => void
  }> = []
  const inFlight = new Set<Promise<unknown>>()

  function writePending(): void {
    if (pending.length === 0) return
    const batch = pending
    pending = []
    const written = replicas.after(
      eval_(
        APPEND,
        [KEYS.head, KEYS.log, KEYS.logSizes, KEYS.logBytes],
        [...kept, ...batch.flatMap((p) => [p.at, p.prefix])],
      ),
    )
    inFlight.add(written)
    written.then(
      (first) => {
        inFlight.delete(written)
        for (const [index, item] of batch.entries()) {
          item.resolve(stamped(item.prefix, Number(first) + index))
        }
      },
      (error) => {
        inFlight.delete(written)
        for (const item of batch) item.reject(error)
      },
    )
  }

  const log: RoomLog = {
    append(frame: UnstampedFrame) {
      const { promise, resolve, reject } = Promise.withResolvers<LoggedEntry>()
      if (pending.length === 0) setImmediate(writePending)
      pending.push({ prefix: unstamped(frame), at: frame.at, resolve, reject })
      return promise
    },
    async readAfter(afterSeq, limit, maxBytes = Number.MAX_SAFE_INTEGER) {
      const args = [READ_AFTER, '1', KEYS.log, `(${afterSeq}-0`, String(limit), String(maxBytes)]
      return (await query(redis, StreamEntriesReply, 'EVAL', args)).map(decodeLogEntry)
    },
    async head() {
      return Number((await query(redis, TextReply, 'GET', [KEYS.head])) ?? 0)
    },
    async oldest() {
      const range = [KEYS.log, '-', '+', 'COUNT', '1']
      const [first] = await query(redis, StreamEntriesReply, 'XRANGE', range)
      return first ? decodeLogEntry(first).seq : (await log.head()) + 1
    },
  }

  const groups: GroupStore = {
    async load() {
      const stored = await query(redis, TextReply, 'GET', [KEYS.group])
      if (stored === null) return null
      const json: unknown = JSON.parse(stored)
      const parsed = v.safeParse(GroupRecordSchema, json)
      if (parsed.success) return parsed.output
      // A record from before commits were checked has no public state to check them against: the
      // group starts anew and its members rejoin, as after any group's end.
      const legacy = v.safeParse(LegacyGroupSchema, json)
      await eval_(DISSOLVE, [KEYS.group], [legacy.success ? legacy.output.groupId : ''])
      return null
    },
    async found(record: GroupRecord) {
      const set = [KEYS.group, JSON.stringify(record), 'NX']
      return (await query(redis, TextReply, 'SET', set)) === 'OK'
    },
    async acceptCommit(expected, next, frame) {
      writePending()
      const prefix = unstamped(frame)
      // Before the commit is acted on (a Welcome sent, the next epoch asked for), the replicas
      // hold it: a failover can never leave a member welcomed into an epoch the log lost.
      const seq = await replicas.after(
        eval_(
          ACCEPT_COMMIT,
          [KEYS.group, KEYS.head, KEYS.log, KEYS.logSizes, KEYS.logBytes],
          [expected.groupId, expected.epoch, JSON.stringify(next), prefix, ...kept, frame.at],
        ),
      )
      return seq < 0 ? 'stale' : stamped(prefix, seq)
    },
    async dissolve(groupId) {
      await eval_(DISSOLVE, [KEYS.group], [groupId])
    },
  }

  return {
    identities,
    log,
    groups,
    flush: writePending,
    async settled() {
      writePending()
      await Promise.allSettled([...inFlight])
    },
  }
}
