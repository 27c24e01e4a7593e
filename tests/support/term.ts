// Runs the real terminal client as a child process in pipe mode (stdin lines in, one event per
// stdout line out), or under tmux for the interactive screen.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestServer } from './harness.ts'
import { testCertificates } from './harness.ts'

export const CLIENT = join(import.meta.dir, '..', '..', 'apps', 'term', 'client.ts')

export interface TermProcess extends AsyncDisposable {
  readonly home: string
  readonly downloads: string
  readonly lines: string[]
  readonly errors: string[]
  send(line: string): void
  endInput(): void
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
  exited(): Promise<number>
  /** Kills it outright (SIGKILL): a crash, nothing of its own exit code runs. */
  crash(): Promise<void>
}

export interface TermOptions {
  readonly name: string
  readonly args?: string[]
  readonly home?: string
  /** Omit --ca (to test trust refusals). */
  readonly noCa?: boolean
  readonly port?: number
  readonly env?: Record<string, string>
}

export async function spawnTerm(
  server: Pick<TestServer, 'termPort'>,
  options: TermOptions,
): Promise<TermProcess> {
  const certs = await testCertificates()
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'chatbox-term-'))
  const downloads = join(home, 'downloads')
  const child = Bun.spawn(
    [
      'bun',
      CLIENT,
      '--server',
      `127.0.0.1:${options.port ?? server.termPort}`,
      '--name',
      options.name,
      '--config-home',
      home,
      '--download-dir',
      downloads,
      ...(options.noCa ? [] : ['--ca', join(certs.dir, 'ca.pem')]),
      ...(options.args ?? []),
    ],
    {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      // No local dev CA from the repository's certs/ may stand in for the test CA.
      env: {
        ...process.env,
        CHATBOX_CERT_DIR: join(home, 'no-certs'),
        NO_COLOR: '1',
        ...options.env,
      },
    },
  )
  const lines: string[] = []
  const errors: string[] = []
  const waiters = new Set<() => void>()
  const collect = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
    let partial = ''
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      partial += decoder.decode(chunk, { stream: true })
      const parts = partial.split('\n')
      partial = parts.pop() ?? ''
      into.push(...parts)
      for (const wake of waiters) wake()
    }
    if (partial) into.push(partial)
    for (const wake of waiters) wake()
  }
  const done = Promise.all([collect(child.stdout, lines), collect(child.stderr, errors)])
  return {
    home,
    downloads,
    lines,
    errors,
    send(line) {
      child.stdin.write(`${line}\n`)
      child.stdin.flush()
    },
    endInput() {
      child.stdin.end()
    },
    waitForLine(pattern, timeoutMs = 15_000) {
      const found = () => lines.find((line) => pattern.test(line))
      const now = found()
      if (now !== undefined) return Promise.resolve(now)
      return new Promise((resolve, reject) => {
        const wake = () => {
          const line = found()
          if (line !== undefined) {
            waiters.delete(wake)
            clearTimeout(timer)
            resolve(line)
          } else if (child.exitCode !== null) {
            waiters.delete(wake)
            clearTimeout(timer)
            reject(
              new Error(
                `exited (${child.exitCode}) without ${pattern}: ${[...lines, ...errors].join('\n')}`,
              ),
            )
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(wake)
          reject(new Error(`no line like ${pattern} in: ${[...lines, ...errors].join('\n')}`))
        }, timeoutMs)
        waiters.add(wake)
      })
    },
    async exited() {
      await child.exited
      await done
      return child.exitCode ?? -1
    },
    async crash() {
      child.kill('SIGKILL')
      await child.exited
    },
    async [Symbol.asyncDispose]() {
      child.kill()
      await child.exited
      if (!options.home) rmSync(home, { recursive: true, force: true })
    },
  }
}

/** A port on 127.0.0.1 that nothing listens on: one the kernel just gave out, and took back. */
export async function closedPort(): Promise<number> {
  const listener = Bun.listen({
    hostname: '127.0.0.1',
    port: 0,
    socket: { data() {} },
  })
  const port = listener.port
  listener.stop(true)
  return port
}
