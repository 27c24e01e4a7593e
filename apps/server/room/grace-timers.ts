// One timer per member away from the room: when it runs out, the member is to be removed from the
// group. Keyed by whatever id the caller gives (the Delivery Service: identity keys, one a device);
// knows nothing of groups.

export class GraceTimers {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()

  constructor(
    private readonly graceMs: number,
    private readonly expired: (id: string) => void,
  ) {}

  /** (Re)starts `id`'s grace. */
  start(id: string): void {
    this.cancel(id)
    const timer = setTimeout(() => {
      this.timers.delete(id)
      this.expired(id)
    }, this.graceMs)
    timer.unref?.()
    this.timers.set(id, timer)
  }

  /** `id` is back, or gone from the group already. */
  cancel(id: string): void {
    clearTimeout(this.timers.get(id))
    this.timers.delete(id)
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }
}
