// How late the event loop runs: a timer asks to run every interval and notes how much later than
// asked it ran. Everything the server does shares this one thread, so a lag here is a delay in
// every delivery, commit and handshake.

export interface EventLoopLag {
  /** The worst lag of the recent samples (the last `window` of them), in milliseconds. */
  worstMs(): number
  /** Resolves after the next sample is taken. */
  nextSample(): Promise<void>
  stop(): void
}

export interface EventLoopLagOptions {
  readonly intervalMs?: number
  /** How many samples the worst is taken over: 50 of 100 ms, the last 5 s. */
  readonly window?: number
  /** The clock the lag is measured by; `performance.now` unless a test gives its own. */
  readonly now?: () => number
}

export function watchEventLoopLag(options: EventLoopLagOptions = {}): EventLoopLag {
  const intervalMs = options.intervalMs ?? 100
  const window = options.window ?? 50
  const now = options.now ?? (() => performance.now())
  const samples: number[] = []
  const waiters: Array<() => void> = []
  let expectedAt = now() + intervalMs
  let timer: ReturnType<typeof setTimeout>

  function sample(): void {
    const at = now()
    samples.push(Math.max(0, at - expectedAt))
    if (samples.length > window) samples.shift()
    expectedAt = at + intervalMs
    schedule()
    for (const wake of waiters.splice(0)) wake()
  }

  function schedule(): void {
    timer = setTimeout(sample, intervalMs)
    // The watch never keeps the process alive by itself.
    timer.unref?.()
  }
  schedule()

  return {
    worstMs: () => samples.reduce((worst, lag) => Math.max(worst, lag), 0),
    nextSample: () => new Promise((resolve) => waiters.push(resolve)),
    stop: () => clearTimeout(timer),
  }
}
