// When a log writes its pending appends (and so when members are sent them): at the end of the
// event-loop turn after a quiet spell, and no sooner than `intervalMs` after the last batch while
// the room is busy. Each batch costs one commit and one write to every member's socket whatever it
// holds, so a busy room's batches hold more: on this machine the default 3 ms pace took the
// server's CPU per delivery from 0.95–1.22× the bare relay's to 0.63–0.93× (docs/performance.md).
// Knows nothing of what is written.

export interface WritePacer {
  /** Asks for `write` to run when the pace allows; call it once per batch. */
  schedule(write: () => void): void
  /** The batch is being written now: the next waits `intervalMs` from here. */
  writing(): void
}

export interface PacerClock {
  readonly now: () => number
  readonly soon: (run: () => void) => void
  readonly after: (run: () => void, ms: number) => void
}

const realClock: PacerClock = {
  now: () => performance.now(),
  soon: (run) => setImmediate(run),
  after: (run, ms) => setTimeout(run, ms),
}

export function createWritePacer(intervalMs: number, clock: PacerClock = realClock): WritePacer {
  let lastWrite = Number.NEGATIVE_INFINITY
  return {
    schedule(write) {
      const wait = lastWrite + intervalMs - clock.now()
      if (wait <= 0) clock.soon(write)
      else clock.after(write, wait)
    },
    writing() {
      lastWrite = clock.now()
    },
  }
}
