// Reads the room's log in sequence order: frames that come early are held until the gap before
// them closes (or the server is asked to send it again), and frames that come before this client
// joined wait for its Welcome. It knows sequence numbers only; applying a frame is the caller's.
import type { ServerFrame } from '../protocol/frames.ts'
import type { Clock, Timer } from './clock.ts'

export type LogFrame = Extract<ServerFrame, { type: 'app' } | { type: 'commit' }>

/** How long a gap in sequence numbers may stay open before asking the server to resend. */
export const GAP_WAIT_MS = 1_000
/** Frames held while waiting for a gap or a Welcome; more than this means something is wrong. */
export const MAX_HELD_FRAMES = 10_000

export interface LogReaderOptions {
  readonly clock: Clock
  /** The last sequence number applied, or undefined while this client is not in the group. */
  position(): number | undefined
  /** Outside the group: whether frames are worth keeping for the Welcome that is awaited. */
  awaitingWelcome(): boolean
  /** Applies the frame right after `position()`; the position must then be the frame's. */
  apply(frame: LogFrame): Promise<void>
  /** Asks the server for every frame after `afterSeq`. */
  resume(afterSeq: number): void
}

export class LogReader {
  /** The highest sequence number the server has shown this client, applied or not. */
  private seenSeq = 0
  private readonly held = new Map<number, LogFrame>()
  private gapTimer: Timer | undefined

  constructor(private readonly options: LogReaderOptions) {}

  get seen(): number {
    return this.seenSeq
  }

  /** The server's log is the truth: one that lost its data starts numbering again. */
  startAt(head: number): void {
    this.seenSeq = head
  }

  async receive(frame: LogFrame): Promise<void> {
    this.seenSeq = Math.max(this.seenSeq, frame.seq)
    const position = this.options.position()
    if (position === undefined) {
      // Waiting for a Welcome: what follows the commit that adds us must be read after it.
      if (this.options.awaitingWelcome() && this.held.size < MAX_HELD_FRAMES) {
        this.held.set(frame.seq, frame)
      }
      return
    }
    if (frame.seq <= position) return
    if (frame.seq > position + 1) {
      if (this.held.size >= MAX_HELD_FRAMES) {
        this.held.clear()
        this.options.resume(position)
        return
      }
      this.held.set(frame.seq, frame)
      this.watchGap()
      return
    }
    await this.options.apply(frame)
    await this.drain()
  }

  /** Applies the held frames that now follow on, in order. */
  async drain(): Promise<void> {
    for (;;) {
      const position = this.options.position()
      const next = position === undefined ? undefined : this.held.get(position + 1)
      if (!next) break
      this.held.delete(next.seq)
      await this.options.apply(next)
    }
    if (this.held.size > 0) this.watchGap()
  }

  /** Forgets held frames up to `seq`: the Welcome that arrived covers them. */
  forgetThrough(seq: number): void {
    for (const heldSeq of this.held.keys()) if (heldSeq <= seq) this.held.delete(heldSeq)
  }

  clear(): void {
    this.held.clear()
  }

  stop(): void {
    this.options.clock.clearTimeout(this.gapTimer)
    this.gapTimer = undefined
  }

  private watchGap(): void {
    if (this.gapTimer) return
    this.gapTimer = this.options.clock.setTimeout(() => {
      this.gapTimer = undefined
      const position = this.options.position()
      if (this.held.size > 0 && position !== undefined) this.options.resume(position)
    }, GAP_WAIT_MS)
  }
}
