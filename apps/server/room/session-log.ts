// A member's messages into the log and the log replayed to it: what one session does with the room's
// log, apart from the session's own bookkeeping (member-session.ts).
import type { ErrorCode, Member, ServerFrame } from '../../../shared/protocol/frames.ts'
import { replayLog, resumeStart } from './log-replay.ts'
import type { Connection } from './ports.ts'
import type { SessionHost } from './session-host.ts'

/** A session as its messages and replays need it. */
export interface SessionReader {
  readonly host: SessionHost
  readonly connection: Connection
  /** The log's head when this member was admitted: outside the group, it is shown nothing older. */
  readonly admittedHead: number
  /** When it last answered a request to commit or found: its change may not be heard here yet. */
  readonly answeredAt: number
  /** The member, while the session still is one. */
  member(): Member | undefined
  reject(code: ErrorCode, message: string): void
  send(frame: ServerFrame): void
  readonly internalError: (error: unknown) => void
}

export function logApp(
  host: Pick<SessionHost, 'log' | 'fanout' | 'now'>,
  member: Member,
  ciphertext: string,
  internalError: (error: unknown) => void,
): void {
  const { log, fanout, now } = host
  // Not awaited: the next frame need not wait for this one's write, and the store hands
  // entries back in sequence order, so publishing stays in log order.
  log
    .append({ type: 'app', from: member.name, at: now(), ciphertext })
    .then((written) => fanout.publishLogged(written), internalError)
}

/**
 * A message from a device the group does not hold here. A founder, or a committer adding itself
 * back, may be heard of a moment later (through Redis): it waits for that change, in order.
 */
export async function appFromOutside(session: SessionReader, ciphertext: string): Promise<void> {
  const { host } = session
  const { now, limits } = host
  const member = session.member()
  if (!member) return
  const until = session.answeredAt + limits.commitTimeoutMs
  while (!host.inGroup(member) && now() < until) {
    await host.rosterChange(until - now())
  }
  if (!session.member()) return
  if (host.inGroup(member)) logApp(host, member, ciphertext, session.internalError)
  else session.reject('not_in_group', 'only members of the group may send messages')
}

export async function replay(session: SessionReader, afterSeq: number): Promise<void> {
  const { host } = session
  const { log } = host
  const start = await resumeStart(log, afterSeq)
  if ('code' in start) return session.reject(start.code, start.message)
  const { head } = start
  // Outside the group the log is ciphertext it cannot read, and names it has no business
  // collecting: only what was logged after it arrived.
  const member = session.member()
  const from = member && host.inGroup(member) ? afterSeq : Math.max(afterSeq, session.admittedHead)
  const to = {
    log,
    connection: session.connection,
    windowBytes: host.limits.replayWindowBytes,
    going: () => session.member() !== undefined,
  }
  await replayLog(to, from, head)
  // The connection may have closed while the log was read; it must hear nothing after that.
  if (session.member()) session.send({ type: 'resumed', head })
}
