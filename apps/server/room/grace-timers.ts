// One timer per member away from the room: when it runs out, the member is to be removed from the
// group. Keyed by case-folded name; knows nothing of groups.
import { nameKey } from '../../../shared/protocol/names.ts'

export class GraceTimers {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()

  constructor(
    private readonly graceMs: number,
    private readonly expired: (name: string) => void,
  ) {}

  /** (Re)starts `name`'s grace. */
  start(name: string): void {
    const key = nameKey(name)
    this.cancel(name)
    const timer = setTimeout(() => {
      this.timers.delete(key)
      this.expired(name)
    }, this.graceMs)
    timer.unref?.()
    this.timers.set(key, timer)
  }

  /** `name` is back, or gone from the group already. */
  cancel(name: string): void {
    const key = nameKey(name)
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }
}
