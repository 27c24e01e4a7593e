// A real redis-server for the tests, on a free port in a temporary directory, with the durability
// the README asks for (append-only file, fsync on every write), that a test can kill and restart;
// optionally behind TLS only, or as the replica of another through a link the test can stall.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RedisClient } from 'bun'
import { freePort } from './serve-process.ts'
import { startTcpForward, type TcpForward } from './tcp-forward.ts'

export interface TestRedis extends AsyncDisposable {
  readonly url: string
  readonly port: number
  /** Kills it at once (SIGKILL): only what it had fsynced survives. */
  kill(): Promise<void>
  /** Starts it again on the same port and directory. */
  start(): Promise<void>
  /** Resolves once the running server has logged a line matching `pattern`. */
  logged(pattern: RegExp, timeoutMs?: number): Promise<void>
}

export interface RedisOptions {
  /** Serve TLS only (no plaintext port), with this certificate and key (PEM file paths). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string }
  /** Replicate the server on this port of 127.0.0.1. */
  readonly replicaOf?: number
  /** Addresses to listen on; 127.0.0.1 by default. */
  readonly bind?: readonly string[]
}

export function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0
}

export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-redis-'))
  const port = freePort()
  const listen = options.tls
    ? [
        ...['--port', '0', '--tls-port', String(port)],
        ...['--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key],
        // Redis wants a CA even when it asks clients for no certificate.
        ...['--tls-ca-cert-file', options.tls.ca, '--tls-auth-clients', 'no'],
      ]
    : ['--port', String(port)]
  const replica = options.replicaOf ? ['--replicaof', '127.0.0.1', String(options.replicaOf)] : []
  let child: ReturnType<typeof Bun.spawn> | undefined
  let output = ''
  const wakers = new Set<() => void>()
  const heard = () => {
    for (const wake of wakers) wake()
  }

  async function read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true })
      heard()
    }
  }

  async function logged(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const running = child
    const timer = setTimeout(() => heard(), timeoutMs)
    const deadline = performance.now() + timeoutMs
    try {
      while (!pattern.test(output)) {
        if (running?.exitCode !== null || performance.now() > deadline) {
          throw new Error(`redis-server on port ${port} never logged ${pattern}:\n${output}`)
        }
        const { promise, resolve } = Promise.withResolvers<void>()
        wakers.add(resolve)
        running.exited.then(() => resolve())
        await promise
        wakers.delete(resolve)
      }
    } finally {
      clearTimeout(timer)
    }
  }

  async function start(): Promise<void> {
    output = ''
    child = Bun.spawn(
      [
        'redis-server',
        ...listen,
        ...['--bind', ...(options.bind ?? ['127.0.0.1']), '--dir', dir],
        ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
        // A replica is sent the data set at once, not after the default 5 s wait for others.
        ...['--repl-diskless-sync-delay', '0'],
        ...replica,
      ],
      { stdout: 'pipe', stderr: 'pipe' },
    )
    void read(child.stdout as ReadableStream<Uint8Array>)
    void read(child.stderr as ReadableStream<Uint8Array>)
    await logged(/Ready to accept connections/)
  }

  async function kill(): Promise<void> {
    child?.kill('SIGKILL')
    await child?.exited
  }

  await start()
  return {
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    kill,
    start,
    logged,
    async [Symbol.asyncDispose]() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface RedisPair extends AsyncDisposable {
  readonly primary: TestRedis
  readonly replica: TestRedis
  /** The replication link from the primary to the replica, which a test can stall. */
  readonly link: TcpForward
  /** The URL instances are given: an address that reaches the primary, and after `failover` the replica. */
  readonly url: string
  /**
   * The primary dies (SIGKILL) with whatever the link still held back, the replica is promoted
   * (`REPLICAOF NO ONE`, as a failover script or Sentinel would), and the address follows it.
   */
  failover(): Promise<void>
  /** A new replica of the current primary, in sync with it; stopped with the pair. */
  addReplica(): Promise<TestRedis>
  /** Resolves once the replica has confirmed everything the primary took so far. */
  replicated(): Promise<void>
}

/** Both sides say the copy is done: only then does the primary count the replica for WAIT. */
async function inSync(primary: TestRedis, replica: TestRedis): Promise<void> {
  await Promise.all([
    replica.logged(/MASTER <-> REPLICA sync: Finished with success/),
    primary.logged(
      new RegExp(`Synchronization with replica 127\\.0\\.0\\.1:${replica.port} succeeded`),
    ),
  ])
}

/** A primary with one replica in sync with it, both durable, behind an address that can move. */
export async function startRedisPair(): Promise<RedisPair> {
  const primary = await startRedis()
  const link = await startTcpForward(primary.port)
  const replica = await startRedis({ replicaOf: link.port })
  await inSync(primary, replica)
  const address = await startTcpForward(primary.port)
  const added: TestRedis[] = []
  let current = primary
  return {
    primary,
    replica,
    link,
    url: `redis://127.0.0.1:${address.port}`,
    async failover() {
      await primary.kill()
      link.cut()
      const promoter = new RedisClient(replica.url)
      try {
        await promoter.send('REPLICAOF', ['NO', 'ONE'])
      } finally {
        promoter.close()
      }
      address.retarget(replica.port)
      current = replica
    },
    async addReplica() {
      const another = await startRedis({ replicaOf: current.port })
      added.push(another)
      await inSync(current, another)
      return another
    },
    async replicated() {
      // WAIT counts from this connection's own last write, and the replication stream keeps
      // order: once the replica confirms a mark written now, it holds all that came before.
      const client = new RedisClient(primary.url)
      try {
        await client.send('SET', ['chatbox-test:replicated', String(Date.now())])
        const confirmed = await client.send('WAIT', ['1', '10000'])
        if (confirmed !== 1) throw new Error(`the replica confirmed nothing within 10 s`)
      } finally {
        client.close()
      }
    },
    async [Symbol.asyncDispose]() {
      for (const another of added) await another[Symbol.asyncDispose]()
      await address[Symbol.asyncDispose]()
      await link[Symbol.asyncDispose]()
      await replica[Symbol.asyncDispose]()
      await primary[Symbol.asyncDispose]()
    },
  }
}
