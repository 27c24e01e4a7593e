// The orchestrator's view of its child processes: starting them pinned to a core, talking to
// them over IPC, and reading their CPU time and memory from /proc. Linux only, as the bench is.
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { Subprocess } from 'bun'
import * as v from 'valibot'
import {
  type ClientCommand,
  type ClientReply,
  ClientReplySchema,
  type Lag,
  type ServerReady,
  ServerReadySchema,
  type ServerReply,
  ServerReplySchema,
} from './ipc.ts'

/** Clock ticks per second of /proc's CPU times (USER_HZ); 100 on every Linux that matters. */
const TICKS_PER_SECOND = 100

export interface Placement {
  /** Cores for the server and for the clients; undefined when they cannot be kept apart. */
  readonly serverCores?: string
  readonly clientCores?: string
  readonly note: string
}

export function choosePlacement(): Placement {
  const cores = cpus().length
  const taskset = Bun.which('taskset')
  if (cores >= 2 && taskset) {
    // The server gets the first core; clients share the rest, so client work never slows it.
    return {
      serverCores: '0',
      clientCores: cores === 2 ? '1' : `1-${cores - 1}`,
      note: `server pinned to core 0, clients to cores ${cores === 2 ? '1' : `1-${cores - 1}`}`,
    }
  }
  return { note: `not pinned (${cores} cores, taskset ${taskset ? 'found' : 'missing'})` }
}

/** The command line that runs `argv` on these cores (taskset), or as it is when unpinned. */
export function pinned(cores: string | undefined, argv: string[]): string[] {
  return cores === undefined ? argv : ['taskset', '-c', cores, ...argv]
}

/**
 * The command line that runs `argv` at this nice value (nice(1)), or as it is. Without the
 * privilege to raise a priority nice warns and runs it unchanged: niceOf tells what it got.
 */
export function niced(nice: number | undefined, argv: string[]): string[] {
  return nice === undefined || nice === 0 ? argv : ['nice', '-n', String(nice), ...argv]
}

/** A process's nice value (/proc/PID/stat's 19th field), undefined once it is gone. */
export function niceOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  } catch {
    return undefined
  }
}

/** CPU seconds a process has used so far, all its threads together (utime + stime). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses; the fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return 0
  }
}

/** Resident memory in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  return match ? Number(match[1]) * 1024 : Number.NaN
}

/** Busy CPU seconds of the whole machine so far, to tell how much other work ran beside ours. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  const ticks = line.trim().split(/\s+/).slice(1).map(Number)
  const total = ticks.reduce((sum, value) => sum + value, 0)
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
  return (total - idle) / TICKS_PER_SECOND
}

/** A child that answers each request with exactly one reply, in order. */
class Channel<Reply> {
  private waiting: Array<{ resolve: (reply: Reply) => void; reject: (error: Error) => void }> = []
  private closedWith?: Error

  constructor(
    private readonly schema: v.GenericSchema<unknown, Reply>,
    private readonly what: string,
  ) {}

  receive(message: unknown): void {
    const waiter = this.waiting.shift()
    if (!waiter) return
    const parsed = v.safeParse(this.schema, message)
    if (parsed.success) waiter.resolve(parsed.output)
    else {
      const issue = parsed.issues[0]
      const path = issue.path?.map((item) => String(item.key)).join('.') ?? ''
      waiter.reject(new Error(`${this.what} sent an unexpected reply (${path}: ${issue.message})`))
    }
  }

  fail(error: Error): void {
    this.closedWith = error
    for (const waiter of this.waiting.splice(0)) waiter.reject(error)
  }

  request(process: Subprocess, message: unknown): Promise<Reply> {
    if (this.closedWith) return Promise.reject(this.closedWith)
    const { promise, resolve, reject } = Promise.withResolvers<Reply>()
    this.waiting.push({ resolve, reject })
    process.send(message)
    return promise
  }
}

export interface ServerProcess {
  readonly pid: number
  readonly ready: ServerReady
  gc(): Promise<Extract<ServerReply, { type: 'gc-done' }>>
  lag(): Promise<Lag>
  stop(): Promise<void>
}

export async function startServer(
  script: string,
  args: string[],
  placement: Placement,
  options: { cpuProfileDir?: string; env?: Record<string, string>; nice?: number } = {},
): Promise<ServerProcess> {
  const profile = options.cpuProfileDir
    ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${options.cpuProfileDir}`]
    : []
  const channel = new Channel<ServerReply>(ServerReplySchema, script)
  const argv = niced(options.nice, ['bun', ...profile, script, ...args])
  const child = Bun.spawn(pinned(placement.serverCores, argv), {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'inherit',
    env: { ...process.env, ...options.env },
    ipc: (message) => channel.receive(message),
  })
  void child.exited.then((code) => channel.fail(new Error(`${script} exited with ${code}`)))
  const lines = readLines(child.stdout)
  const first = await lines.next()
  if (first.done) throw new Error(`${script} exited before it was ready`)
  const ready = v.parse(ServerReadySchema, JSON.parse(first.value))
  // Keep reading: a server that logs must never block on a full pipe.
  void (async () => {
    for await (const _line of lines);
  })()
  return {
    pid: child.pid,
    ready,
    async gc() {
      const reply = await channel.request(child, { type: 'gc' })
      if (reply.type !== 'gc-done') throw new Error(`${script} answered gc with ${reply.type}`)
      return reply
    },
    async lag() {
      const reply = await channel.request(child, { type: 'lag' })
      if (reply.type !== 'lag') throw new Error(`${script} answered lag with ${reply.type}`)
      return reply.lag
    },
    async stop() {
      child.kill('SIGTERM')
      // Writing a CPU profile of a long run takes a while: killed first, it writes nothing.
      const timer = setTimeout(() => child.kill('SIGKILL'), profile.length > 0 ? 120_000 : 10_000)
      await child.exited
      clearTimeout(timer)
    },
  }
}

export interface ClientProcess {
  readonly pid: number
  request(command: ClientCommand): Promise<ClientReply>
  stop(): Promise<void>
}

export function startClient(placement: Placement): ClientProcess {
  const channel = new Channel<ClientReply>(ClientReplySchema, 'a load client')
  const script = new URL('./load-client.ts', import.meta.url).pathname
  const child = Bun.spawn(pinned(placement.clientCores, ['bun', script]), {
    stdin: 'ignore',
    stdout: 'inherit',
    stderr: 'inherit',
    ipc: (message) => channel.receive(message),
  })
  void child.exited.then((code) => channel.fail(new Error(`a load client exited with ${code}`)))
  return {
    pid: child.pid,
    async request(command) {
      const reply = await channel.request(child, command)
      if (reply.type === 'failed') throw new Error(`load client: ${reply.message}`)
      return reply
    },
    async stop() {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await child.exited
      clearTimeout(timer)
    },
  }
}

export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline >= 0) {
      yield buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      newline = buffered.indexOf('\n')
    }
  }
  if (buffered) yield buffered
}
