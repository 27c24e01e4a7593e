// Reads the events stream and the log stream for one instance, in order, on a connection of its
// own, and hands each event and each logged entry on. Knows nothing of what an event means.
import type { RedisClient } from 'bun'
import * as v from 'valibot'
import type { WireFrame } from '../../../shared/protocol/codec.ts'
import { KEYS } from './keys.ts'
import type { ClusterLink } from './link.ts'
import { NotReplicatedError } from './replication.ts'
import { decodeLogEntry, fieldOf, StreamsReply } from './replies.ts'

/** A blocking read returns at least this often, so a stop is never kept waiting long. */
const READ_BLOCK_MS = 1000
const READ_BATCH = 1000
/** How long to wait before reading again after a failure. */
const RETRY_MS = 200

export interface FollowerOptions {
  readonly link: ClusterLink
  /** Used for nothing but these reads, so they never hold up commands. */
  readonly reader: RedisClient
  /** The last event this instance has seen: earlier events are history. */
  readonly eventsCursor: string
  /** The last logged entry already delivered: a member who missed one resumes. */
  readonly delivered: number
  /** An event, as the text stored. */
  readonly onEvent: (text: string) => void
  /** A logged entry, once, in sequence order. */
  readonly onEntry: (wire: WireFrame) => void
  /** Resolves once the replicas hold what was read (replication.ts); entries wait for it. */
  readonly replicated: () => Promise<void>
}

export interface Follower {
  /** The last logged sequence number handed on. */
  deliveredHead(): number
  /** Whether the reader has lost Redis, which it has said once already. */
  down(): boolean
  /** Settles once the link has stopped and the last read has returned. */
  readonly done: Promise<void>
}

export function followStreams(options: FollowerOptions): Follower {
  const { link, reader } = options
  let eventsCursor = options.eventsCursor
  let delivered = options.delivered
  let down = false
  let lagging = false

  /** Whether the replicas hold what was just read; until they do, it is read again. */
  async function confirmed(): Promise<boolean> {
    try {
      await options.replicated()
      if (lagging) {
        lagging = false
        console.error('chatbox: the Redis replicas have caught up; delivering the log again')
      }
      return true
    } catch (error) {
      if (link.stopped()) return false
      if (!lagging) {
        lagging = true
        link.report(
          new Error(`holding the log back until replicas confirm it: ${(error as Error).message}`),
        )
      }
      // A WAIT that timed out has paced this loop already; any other failure is paced here.
      if (!(error instanceof NotReplicatedError)) await Bun.sleep(RETRY_MS)
      return false
    }
  }

  async function read(): Promise<unknown> {
    try {
      const reply = await reader.send('XREAD', [
        'COUNT',
        String(READ_BATCH),
        'BLOCK',
        String(READ_BLOCK_MS),
        'STREAMS',
        KEYS.events,
        KEYS.log,
        eventsCursor,
        `${delivered}-0`,
      ])
      if (down) {
        down = false
        console.error('chatbox: Redis is back; delivering from where this instance left off')
      }
      return reply
    } catch (error) {
      if (link.stopped()) return null
      if (!down) {
        down = true
        link.report(
          new Error(`lost Redis, reading again once it is back: ${(error as Error).message}`),
        )
      }
      await Bun.sleep(RETRY_MS)
      return null
    }
  }

  async function follow(): Promise<void> {
    while (!link.stopped()) {
      const reply = await read()
      const parsed = v.safeParse(StreamsReply, reply)
      if (!parsed.success) {
        link.report(new Error(`ignored an unexpected XREAD reply: ${parsed.issues[0].message}`))
        continue
      }
      const streams = parsed.output
      // Events first: a join read in the same batch as that member's first message comes before it.
      for (const entry of streams.get(KEYS.events) ?? []) {
        eventsCursor = entry[0]
        options.onEvent(fieldOf(entry))
      }
      const entries = streams.get(KEYS.log) ?? []
      // Nothing is shown before the replicas hold it: the next read brings the same entries again.
      if (entries.length > 0 && !(await confirmed())) continue
      for (const raw of entries) {
        const entry = decodeLogEntry(raw)
        if (entry.seq <= delivered) continue
        delivered = entry.seq
        options.onEntry(entry.wire)
      }
    }
  }

  return { deliveredHead: () => delivered, down: () => down, done: follow() }
}
