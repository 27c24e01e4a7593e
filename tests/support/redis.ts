// A real redis-server for the tests, on a free port in a temporary directory, with the durability
// the README asks for (append-only file, fsync on every write), that a test can kill and restart.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './serve-process.ts'

export interface TestRedis extends AsyncDisposable {
  readonly url: string
  readonly port: number
  /** Kills it at once (SIGKILL): only what it had fsynced survives. */
  kill(): Promise<void>
  /** Starts it again on the same port and directory. */
  start(): Promise<void>
}

export function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-redis-'))
  const port = freePort()
  let child: ReturnType<typeof Bun.spawn> | undefined

  async function start(): Promise<void> {
    child = Bun.spawn(
      [
        'redis-server',
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdout: 'pipe', stderr: 'pipe' },
    )
    const deadline = performance.now() + 10_000
    while (performance.now() < deadline) {
      const ping = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' })
      if (ping.stdout?.trim() === 'PONG') return
      if (child.exitCode !== null) break
      await Bun.sleep(25)
    }
    throw new Error(`redis-server did not start on port ${port}`)
  }

  async function kill(): Promise<void> {
    child?.kill('SIGKILL')
    await child?.exited
  }

  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    async [Symbol.asyncDispose]() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
