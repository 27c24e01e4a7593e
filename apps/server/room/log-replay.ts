// A resume's replay: the log from a sequence number to the head, read a window at a time and
// handed to the connection only as fast as its socket takes it. Knows nothing of sessions.
import type { Connection, RoomLog } from './ports.ts'

/** Replays are read in pages so a long resume does not hold one giant array. */
const REPLAY_PAGE = 1000
/** How often a replay waiting for its socket to take what it was given looks again. */
const DRAIN_CHECK_MS = 10

export interface ReplayTo {
  readonly log: RoomLog
  readonly connection: Pick<Connection, 'send' | 'bufferedBytes'>
  /** The most text one read hands back (Limits.replayWindowBytes). */
  readonly windowBytes: number
  /** False once the connection is gone or no longer a member: the replay stops there. */
  readonly going: () => boolean
}

/** Where a resume starts: the head to replay up to, or why the log cannot serve it (too far). */
export async function resumeStart(
  log: RoomLog,
  afterSeq: number,
): Promise<{ code: 'resume_ahead' | 'resume_gap'; message: string } | { head: number }> {
  const head = await log.head()
  if (afterSeq > head) {
    return { code: 'resume_ahead', message: `the room's log ends at ${head}; rejoin as a newcomer` }
  }
  const oldest = await log.oldest()
  if (afterSeq + 1 < oldest) {
    return {
      code: 'resume_gap',
      message: `the room's log starts at ${oldest}; rejoin as a newcomer`,
    }
  }
  return { head }
}

/** Sends every logged entry after `afterSeq` up to `head`; a resumer holds about a window. */
export async function replayLog(to: ReplayTo, afterSeq: number, head: number): Promise<void> {
  const { log, connection, windowBytes, going } = to
  let cursor = afterSeq
  while (cursor < head && going()) {
    const page = await log.readAfter(cursor, Math.min(REPLAY_PAGE, head - cursor), windowBytes)
    const last = page.at(-1)
    if (!last) break
    for (const entry of page) connection.send(entry.wire)
    cursor = last.seq
    // The next page is read once the socket has taken most of this one.
    while (connection.bufferedBytes() > windowBytes / 2 && going()) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_CHECK_MS))
    }
  }
}
