// Time as the engine sees it: the current time and the timers it starts, behind one interface so a
// test can drive them (bun:test's fake timers patch the globals this reads at each call).

export type Timer = ReturnType<typeof setTimeout>

export interface Clock {
  now(): number
  setTimeout(run: () => void, ms: number): Timer
  clearTimeout(timer: Timer | undefined): void
  setInterval(run: () => void, ms: number): Timer
  clearInterval(timer: Timer | undefined): void
  /** Resolves after `ms`, on this clock's timers. */
  sleep(ms: number): Promise<void>
}

/** The process's own clock; each call reads the globals then, so fake timers take effect. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer),
  setInterval: (run, ms) => setInterval(run, ms),
  clearInterval: (timer) => clearInterval(timer),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}
