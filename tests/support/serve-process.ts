// `bun run serve` as a child process, for tests of the entry point itself: its output, its
// exit code, and signals.
import { afterAll } from 'bun:test'
import { join as joinPath } from 'node:path'

const ROOT = joinPath(import.meta.dir, '..', '..')

/** Servers still running: a test that failed before stopping its own must not leave it behind. */
const running = new Set<ReturnType<typeof Bun.spawn>>()
afterAll(() => {
  // SIGTERM, which `bun run` passes on to the server it started.
  for (const child of running) child.kill('SIGTERM')
})

/** A port free right now: clients must find the restarted server where the first one was. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = probe
  probe.stop(true)
  return port
}

export interface ServeProcess {
  readonly child: ReturnType<typeof Bun.spawn>
  readonly output: string
  /** What it wrote to stdout alone: the banner and the event log. */
  readonly stdout: string
  until(text: string, timeoutMs?: number): Promise<string>
  /** Waits for the end; a process still running after `timeoutMs` is killed and fails the test. */
  exit(timeoutMs?: number): Promise<{ code: number | null; output: string }>
}

/**
 * Runs `bun run serve` on 127.0.0.1 with the given settings. `direct` runs the server itself
 * instead, for a test that kills it outright: a SIGKILL reaches only the process it is sent to.
 */
export function serve(
  env: Record<string, string>,
  args: string[] = [],
  options: { direct?: boolean } = {},
): ServeProcess {
  const command = options.direct ? ['bun', 'apps/server/main.ts'] : ['bun', 'run', 'serve']
  const child = Bun.spawn([...command, ...args], {
    cwd: ROOT,
    env: { ...process.env, CHATBOX_HOST: '127.0.0.1', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  running.add(child)
  void child.exited.then(() => running.delete(child))
  let output = ''
  let stdout = ''
  /** Woken on every chunk: `until` answers the moment its text arrives, as a supervisor would. */
  const listeners = new Set<() => void>()
  const read = async (stream: ReadableStream<Uint8Array>, alone?: (text: string) => void) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true })
      output += text
      alone?.(text)
      for (const listener of listeners) listener()
    }
  }
  const done = Promise.all([
    read(child.stdout, (text) => {
      stdout += text
    }),
    read(child.stderr),
  ])
  return {
    child,
    get output() {
      return output
    },
    get stdout() {
      return stdout
    },
    async until(text, timeoutMs = 15_000) {
      if (output.includes(text)) return output
      const arrived = Promise.withResolvers<string>()
      const listener = () => {
        if (output.includes(text)) arrived.resolve(output)
      }
      listeners.add(listener)
      const timer = setTimeout(
        () => arrived.reject(new Error(`no "${text}" in: ${output}`)),
        timeoutMs,
      )
      // Every stream ended without it: the process is gone.
      void done.then(() => {
        if (!output.includes(text)) {
          arrived.reject(new Error(`exited ${child.exitCode} without "${text}": ${output}`))
        }
      })
      try {
        return await arrived.promise
      } finally {
        clearTimeout(timer)
        listeners.delete(listener)
      }
    },
    async exit(timeoutMs = 30_000) {
      let late = false
      // SIGTERM, which `bun run` passes on: a SIGKILL would orphan the server holding the pipes.
      const timer = setTimeout(() => {
        late = true
        child.kill('SIGTERM')
      }, timeoutMs)
      await child.exited
      clearTimeout(timer)
      if (late) throw new Error(`still running after ${timeoutMs} ms: ${output}`)
      await done
      return { code: child.exitCode, output }
    },
  }
}
