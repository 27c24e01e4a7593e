// A throwaway redis-server for (r): a free loopback port, a temporary directory, and the
// durability the product documents, so what the bench measures is what a deployment would pay.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pinned, readLines } from './proc.ts'

/** Every write reaches the disk before Redis acknowledges it; no snapshots besides. */
export const REDIS_DURABILITY_ARGS = [
  '--appendonly',
  'yes',
  '--appendfsync',
  'always',
  '--save',
  '',
]
export const REDIS_DURABILITY = 'appendonly yes, appendfsync always, no RDB snapshots'

export interface RedisProcess {
  readonly pid: number
  readonly url: string
  readonly version: string
  /** Empties it (FLUSHALL), so the next configuration starts with an empty room. */
  flush(): Promise<void>
  /** Stops it and removes its directory. */
  stop(): Promise<void>
}

/** A port nothing listens on right now; Redis cannot be asked for port 0. */
function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = probe
  probe.stop(true)
  return port
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const child = Bun.spawn(['redis-cli', '-h', '127.0.0.1', '-p', String(port), ...args], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ])
  if (code !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${err.trim()}`)
  return out.trim()
}

/** Starts Redis on `cores` (the servers' share of the machine: Redis is server-side work). */
export async function startRedis(cores: string | undefined): Promise<RedisProcess> {
  // Another program may take the free port between the probe and Redis binding it: try again.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startRedisOnce(cores)
    } catch (error) {
      if (attempt === 3) throw error
    }
  }
}

async function startRedisOnce(cores: string | undefined): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-bench-redis-'))
  const port = freePort()
  const child = Bun.spawn(
    pinned(cores, [
      'redis-server',
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      ...REDIS_DURABILITY_ARGS,
    ]),
    { stdin: 'ignore', stdout: 'pipe', stderr: 'inherit' },
  )
  const lines = readLines(child.stdout)
  const said: string[] = []
  for await (const line of lines) {
    said.push(line)
    if (line.includes('Ready to accept connections')) break
  }
  if (!said.at(-1)?.includes('Ready to accept connections')) {
    await child.exited
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`redis-server did not start: ${said.slice(-3).join(' / ')}`)
  }
  // Keep reading: a server that logs must never block on a full pipe.
  void (async () => {
    for await (const _line of lines);
  })()
  const version = /redis_version:(\S+)/.exec(await cli(port, 'INFO', 'server'))?.[1] ?? '?'
  return {
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    version,
    async flush() {
      const reply = await cli(port, 'FLUSHALL')
      if (reply !== 'OK') throw new Error(`FLUSHALL answered ${reply}`)
    },
    async stop() {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await child.exited
      clearTimeout(timer)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
