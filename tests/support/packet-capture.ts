// A packet capture on loopback with tcpdump or tshark, when one is installed and may capture
// here; otherwise a sentence saying why not, for the caller to print.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Capture {
  readonly tool: string
  /** Ends the capture: the packet count the tool reported and the pcap file's bytes. */
  stop(): Promise<{ readonly packets: string; readonly bytes: Uint8Array }>
}

const READY_TIMEOUT_MS = 5000

/** Captures TCP traffic on these loopback ports into `dir`/loopback.pcap. */
export async function startCapture(
  dir: string,
  ports: readonly number[],
): Promise<Capture | string> {
  const filter = ports.map((port) => `tcp port ${port}`).join(' or ')
  const file = join(dir, 'loopback.pcap')
  const tools = [
    {
      tool: 'tcpdump',
      args: ['-i', 'lo', '-n', '-U', '--immediate-mode', '-w', file, filter],
      ready: 'listening on',
    },
    { tool: 'tshark', args: ['-i', 'lo', '-f', filter, '-w', file], ready: 'Capturing on' },
  ]
  const found = tools.find((candidate) => Bun.which(candidate.tool))
  if (!found) {
    return 'neither tcpdump nor tshark is installed: the taps below stand in for a packet capture'
  }
  const child = Bun.spawn([found.tool, ...found.args], { stdout: 'ignore', stderr: 'pipe' })
  let stderr = ''
  const listening = Promise.withResolvers<boolean>()
  const reading = (async () => {
    const text = new TextDecoder()
    for await (const chunk of child.stderr) {
      stderr += text.decode(chunk, { stream: true })
      if (stderr.includes(found.ready)) listening.resolve(true)
    }
    // Its stderr ended, so the tool exited before it said it was listening.
    listening.resolve(false)
  })()
  const timer = setTimeout(() => listening.resolve(false), READY_TIMEOUT_MS)
  const ready = await listening.promise
  clearTimeout(timer)
  if (!ready) {
    child.kill()
    const why = stderr.trim().split('\n').at(-1)
    return `${found.tool} could not capture here (${why}); the taps below stand in for it`
  }
  return {
    tool: found.tool,
    async stop() {
      child.kill('SIGINT')
      await child.exited
      await reading
      return {
        packets: stderr.match(/(\d+) packets captured/)?.[1] ?? '?',
        bytes: new Uint8Array(readFileSync(file)),
      }
    },
  }
}
