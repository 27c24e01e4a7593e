// Who is in the MLS group, as this instance last heard from the Delivery Service: only they may
// send messages. Updates can arrive twice (said here at once, then echoed through Redis), so an
// older epoch of the same group never undoes a newer one.
import type { GroupStatus } from '../../../shared/protocol/frames.ts'

export class RosterView {
  private current: GroupStatus | null = null
  /** The identity keys of the group's leaves: each device is its own. */
  private keys = new Set<string>()
  private readonly waiters = new Set<() => void>()
  /** Changes taken so far: a roster read at start-up must not undo one heard meanwhile. */
  private changes = 0

  has(identityKey: string): boolean {
    return this.keys.has(identityKey)
  }

  /** The group as last heard: null while the room has none. */
  get status(): GroupStatus | null {
    return this.current
  }

  take(status: GroupStatus | null): void {
    const { current } = this
    if (status && current?.groupId === status.groupId && status.epoch < current.epoch) return
    this.current = status
    this.keys = new Set(status?.roster)
    this.changes += 1
    for (const wake of [...this.waiters]) wake()
  }

  /** Takes the roster read at start-up, unless a change was heard while it was being read. */
  takeInitial(read: Promise<GroupStatus | null>): Promise<void> {
    const before = this.changes
    return read.then((status) => {
      if (this.changes === before) this.take(status)
    })
  }

  /** Resolves at the next change, or after `ms` without one. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.waiters.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.waiters.add(wake)
    })
  }
}
