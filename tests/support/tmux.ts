// Drives a real terminal program under tmux: type with send-keys, read the screen with
// capture-pane. For the interactive chat screen, which a pipe cannot exercise.

export interface TmuxSession extends AsyncDisposable {
  keys(...keys: string[]): Promise<void>
  /** Types text literally (no key names). */
  type(text: string): Promise<void>
  screen(): Promise<string>
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
}

let counter = 0

async function tmux(...args: string[]): Promise<string> {
  const child = Bun.spawn(['tmux', ...args], { stdout: 'pipe', stderr: 'pipe' })
  const [out, err] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ])
  if ((await child.exited) !== 0) throw new Error(`tmux ${args[0]} failed: ${err}`)
  return out
}

export function hasTmux(): boolean {
  return Bun.which('tmux') !== null
}

export async function startTmux(
  command: string[],
  env: Record<string, string> = {},
): Promise<TmuxSession> {
  const name = `chatbox-test-${process.pid}-${++counter}`
  const exports = Object.entries(env).map(([key, value]) => `${key}=${shellQuote(value)}`)
  const line = [...(exports.length ? ['env', ...exports] : []), ...command.map(shellQuote)].join(
    ' ',
  )
  // remain-on-exit keeps the pane (and what the program last said) after it ends.
  await tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '40', `${line}; sleep 30`)
  const session: TmuxSession = {
    async keys(...keys) {
      await tmux('send-keys', '-t', name, ...keys)
    },
    async type(text) {
      await tmux('send-keys', '-t', name, '-l', text)
    },
    screen: () => tmux('capture-pane', '-p', '-t', name),
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      let last = ''
      while (Date.now() < deadline) {
        last = await session.screen()
        if (pattern.test(last)) return last
        await Bun.sleep(50)
      }
      throw new Error(`the screen never showed ${pattern}:\n${last}`)
    },
    async [Symbol.asyncDispose]() {
      await tmux('kill-session', '-t', name).catch(() => {})
    },
  }
  return session
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}
