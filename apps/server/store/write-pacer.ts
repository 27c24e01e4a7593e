// When a log writes its pending appends (and so when members are sent them): at the end of the
// event-loop turn after a quiet spell, and no sooner than `intervalMs` after the last batch while
// the room is busy. Each batch costs one commit and one write to every member's socket whatever it
// holds, so a busy room's batches hold more: on this machine the default 3 ms pace took the
// server's CPU per delivery from 0.95–1.22× the bare relay's to 0.63–0.93× (docs/performance.md).
// A batch that already holds enough to pay for its write need not wait out the pace: the log
// hurries it to the end of the turn, so at high rates the wait (and the burst each member reads
// at once) shrinks as the rate grows. Knows nothing of what is written.

export interface WritePacer {
  /** Asks for `write` to run when the pace allows; call it once per batch. */
  schedule(write: () => void): void
  /** The batch is being written now: the next waits `intervalMs` from here. */
  writing(): void
  /** The batch waiting for the pace is worth writing now: at the end of this turn instead. */
  hurry(): void
}

export interface PacerClock {
  readonly now: () => number
  readonly soon: (run: () => void) => void
  /** Runs `run` in `ms`; what it returns cancels that. */
  readonly after: (run: () => void, ms: number) => () => void
}

const realClock: PacerClock = {
  now: () => performance.now(),
  soon: (run) => setImmediate(run),
  after(run, ms) {
    const timer = setTimeout(run, ms)
    return () => clearTimeout(timer)
  },
}

export function createWritePacer(intervalMs: number, clock: PacerClock = realClock): WritePacer {
  let lastWrite = Number.NEGATIVE_INFINITY
  /** The batch waiting for the pace, if one is. */
  let waiting: { readonly write: () => void; readonly cancel: () => void } | undefined
  return {
    schedule(write) {
      const wait = lastWrite + intervalMs - clock.now()
      if (wait <= 0) {
        clock.soon(write)
        return
      }
      const cancel = clock.after(() => {
        waiting = undefined
        write()
      }, wait)
      waiting = { write, cancel }
    },
    writing() {
      // Written by another way (the log writes what is pending before it closes): no timer
      // may then write the next batch early.
      waiting?.cancel()
      waiting = undefined
      lastWrite = clock.now()
    },
    hurry() {
      if (!waiting) return
      const { write, cancel } = waiting
      cancel()
      waiting = undefined
      clock.soon(write)
    },
  }
}
