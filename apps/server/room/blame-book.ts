// Whom the Delivery Service holds a commit against that members could not follow, and until
// when; which reporters said they lost their state. Pure bookkeeping over an injected clock.

import { BLAME_MS } from '../../../shared/protocol/limits.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import type { CommitRefusal } from './ports.ts'

export class BlameBook {
  private readonly blamedUntil = new Map<string, number>()
  private readonly lost = new Set<string>()
  /** The last accepted commit: only it can be reported, by the members after it. */
  private last: { readonly seq: number; readonly from: string } | undefined

  constructor(private readonly now: () => number) {}

  isBlamed(name: string): boolean {
    const until = this.blamedUntil.get(nameKey(name))
    if (until === undefined) return false
    if (until > this.now()) return true
    this.blamedUntil.delete(nameKey(name))
    return false
  }

  /** Whether `name` said it could not take a commit: its leaf goes even if it reconnects. */
  lostState(name: string): boolean {
    return this.lost.has(nameKey(name))
  }

  committed(seq: number, from: string): void {
    this.last = { seq, from }
  }

  /** The group changed under this Delivery Service (a new one, another instance's commit). */
  forgetCommits(): void {
    this.last = undefined
  }

  /** `name`'s leaf is gone: what it reported no longer matters. */
  removed(name: string): void {
    this.lost.delete(nameKey(name))
  }

  /**
   * A member of the group (the caller made sure) could not take the commit at `seq`. With
   * 'invalid' about the latest commit and someone else's, that committer is blamed: returned.
   */
  report(reporter: string, { seq, reason }: CommitRefusal): string | undefined {
    this.lost.add(nameKey(reporter))
    const last = this.last
    if (reason !== 'invalid' || last?.seq !== seq || nameKey(last.from) === nameKey(reporter)) {
      return undefined
    }
    this.blamedUntil.set(nameKey(last.from), this.now() + BLAME_MS)
    return last.from
  }
}
