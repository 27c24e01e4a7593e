// Whom the Delivery Service holds a commit against that members could not follow, and until
// when; which reporters said they lost their state. Pure bookkeeping over an injected clock, keyed
// by identity key (each device is its own leaf).

import type { Member } from '../../../shared/protocol/frames.ts'
import { BLAME_MS } from '../../../shared/protocol/limits.ts'
import type { CommitRefusal } from './ports.ts'

export class BlameBook {
  private readonly blamedUntil = new Map<string, number>()
  private readonly lost = new Set<string>()
  /** The last accepted commit: only it can be reported, by the members after it. */
  private last: { readonly seq: number; readonly from: Member } | undefined

  constructor(private readonly now: () => number) {}

  isBlamed(key: string): boolean {
    const until = this.blamedUntil.get(key)
    if (until === undefined) return false
    if (until > this.now()) return true
    this.blamedUntil.delete(key)
    return false
  }

  /** Whether the device with `key` said it could not take a commit: its leaf goes even if it reconnects. */
  lostState(key: string): boolean {
    return this.lost.has(key)
  }

  committed(seq: number, from: Member): void {
    this.last = { seq, from }
  }

  /** The group changed under this Delivery Service (a new one, another instance's commit). */
  forgetCommits(): void {
    this.last = undefined
  }

  /** The leaf with `key` is gone: what it reported no longer matters. */
  removed(key: string): void {
    this.lost.delete(key)
  }

  /**
   * A member of the group (the caller made sure) could not take the commit at `seq`. With
   * 'invalid' about the latest commit and someone else's, that committer is blamed: returned.
   */
  report(reporter: Member, { seq, reason }: CommitRefusal): Member | undefined {
    this.lost.add(reporter.identityKey)
    const last = this.last
    if (
      reason !== 'invalid' ||
      last?.seq !== seq ||
      last.from.identityKey === reporter.identityKey
    ) {
      return undefined
    }
    this.blamedUntil.set(last.from.identityKey, this.now() + BLAME_MS)
    return last.from
  }
}
