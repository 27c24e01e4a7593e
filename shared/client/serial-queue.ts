// Runs steps one at a time, in the order given, even when a step has to await (MLS work): frames
// are handled in arrival order, and an encryption never overlaps a decryption of the same state.

export class SerialQueue {
  private tail: Promise<void> = Promise.resolve()

  /** Queues `step`; what it throws goes to `failed` and does not stop the queue. */
  push(step: () => Promise<void>, failed: (error: unknown) => void): void {
    this.tail = this.tail.then(step).catch(failed)
  }

  /** Queues `step` and hands back its result (or its error) to the caller. */
  run<T>(step: () => Promise<T>): Promise<T> {
    const result = this.tail.then(step)
    this.tail = result.then(
      () => {},
      () => {},
    )
    return result
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail
  }
}
