// The room's stores in Redis, shared by every instance: name bindings in a hash, the ordered log
// in a stream numbered by one counter, the MLS group record changed only by compare-and-set.
// No sockets and no room logic here; the scripts make each change atomic.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import type { LoggedFrame } from '../../../shared/protocol/frames.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import {
  type DistributiveOmit,
  type GroupRecord,
  GroupRecordSchema,
  type GroupStore,
  type IdentityStore,
  type LoggedEntry,
  type RoomLog,
} from '../room/ports.ts'
import { KEYS } from './keys.ts'
import { ACCEPT_COMMIT, APPEND, DISSOLVE } from './scripts.ts'

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

/**
 * Sends a command; while Redis is away Bun's client throws at once instead of rejecting (the
 * offline queue is off), and this makes that a rejection like any other failure.
 */
export function sendCommand(redis: RedisClient, command: string, args: string[]): Promise<unknown> {
  try {
    return redis.send(command, args)
  } catch (error) {
    return Promise.reject(error)
  }
}

/** The frame as JSON without its closing brace: the script appends `,"seq":N}`. */
function unstamped(frame: object): string {
  return JSON.stringify(frame).slice(0, -1)
}

function stamped(prefix: string, seq: number): LoggedEntry {
  return { seq, text: `${prefix},"seq":${seq}}` }
}

/** A stream entry as Bun's client returns it: [id, [field, value, ...]]. */
type StreamEntry = [string, string[]]

export function decodeStreamEntry([id, fields]: StreamEntry): LoggedEntry {
  return { seq: Number.parseInt(id, 10), text: fields[1] ?? '' }
}

export function createRedisStores(redis: RedisClient, retention: number): RedisStores {
  const eval_ = (script: string, keys: string[], args: (string | number)[]) =>
    sendCommand(redis, 'EVAL', [script, String(keys.length), ...keys, ...args.map(String)])

  const identities: IdentityStore = {
    async claim(name, identityKey) {
      const key = nameKey(name)
      if (await sendCommand(redis, 'HSETNX', [KEYS.identities, key, identityKey])) return 'new'
      return (await sendCommand(redis, 'HGET', [KEYS.identities, key])) === identityKey
        ? 'known'
        : 'conflict'
    },
  }

  // Appends wait for the end of the event-loop turn and go to Redis as one script, as the SQLite
  // store batches its writes: one round trip for a turn's messages instead of one each.
  let pending: Array<{
    readonly prefix: string
    readonly resolve: (entry: LoggedEntry) => void
    readonly reject: (error: unknown) => void
  }> = []
  const inFlight = new Set<Promise<unknown>>()

  function writePending(): void {
    if (pending.length === 0) return
    const batch = pending
    pending = []
    const written = eval_(APPEND, [KEYS.head, KEYS.log], [retention, ...batch.map((p) => p.prefix)])
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
    append(frame: DistributiveOmit<LoggedFrame, 'seq'>) {
      const { promise, resolve, reject } = Promise.withResolvers<LoggedEntry>()
      if (pending.length === 0) setImmediate(writePending)
      pending.push({ prefix: unstamped(frame), resolve, reject })
      return promise
    },
    async readAfter(afterSeq, limit) {
      const entries = (await sendCommand(redis, 'XRANGE', [
        KEYS.log,
        `${afterSeq + 1}-0`,
        '+',
        'COUNT',
        String(limit),
      ])) as StreamEntry[]
      return entries.map(decodeStreamEntry)
    },
    async head() {
      return Number((await sendCommand(redis, 'GET', [KEYS.head])) ?? 0)
    },
    async oldest() {
      const [first] = (await sendCommand(redis, 'XRANGE', [KEYS.log, '-', '+', 'COUNT', '1'])) as [
        StreamEntry?,
      ]
      return first ? decodeStreamEntry(first).seq : (await log.head()) + 1
    },
  }

  const groups: GroupStore = {
    async load() {
      const stored = (await sendCommand(redis, 'GET', [KEYS.group])) as string | null
      if (stored === null) return null
      const parsed = v.safeParse(GroupRecordSchema, JSON.parse(stored))
      if (parsed.success) return parsed.output
      // A record from before commits were checked has no public state to check them against: the
      // group starts anew and its members rejoin, as after any group's end.
      const groupId = (JSON.parse(stored) as { groupId?: unknown }).groupId
      await eval_(DISSOLVE, [KEYS.group], [typeof groupId === 'string' ? groupId : ''])
      return null
    },
    async found(record: GroupRecord) {
      return (await sendCommand(redis, 'SET', [KEYS.group, JSON.stringify(record), 'NX'])) === 'OK'
    },
    async acceptCommit(expected, next, frame) {
      writePending()
      const prefix = unstamped(frame)
      const seq = Number(
        await eval_(
          ACCEPT_COMMIT,
          [KEYS.group, KEYS.head, KEYS.log],
          [expected.groupId, expected.epoch, JSON.stringify(next), prefix, retention],
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
