// Drives a real terminal program under tmux: type with send-keys, read the screen with
// capture-pane. For the interactive chat screen, which a pipe cannot exercise.

export interface TmuxSession extends AsyncDisposable {
  keys(...keys: string[]): Promise<void>
  /** Types text literally (no key names). */
  type(text: string): Promise<void>
  /** The visible pane, as it is drawn: a long line spans several rows. */
  screen(): Promise<string>
  /** The scrollback and the pane, each wrapped line joined back into one, trailing blanks cut. */
  scrollback(): Promise<string>
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** Waits for the program to end; its exit status, and the pane as it left it. */
  exited(timeoutMs?: number): Promise<{ readonly code: number; readonly screen: string }>
}

export interface TmuxOptions {
  /** Columns of the pane; 120 unless given. */
  readonly width?: number
  readonly height?: number
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

/** What the shell prints after the program, on a line of its own: `[exited 0]`. */
const EXITED = /^\[exited (\d+)\]$/m

export async function startTmux(
  command: string[],
  env: Record<string, string> = {},
  options: TmuxOptions = {},
): Promise<TmuxSession> {
  const name = `chatbox-test-${process.pid}-${++counter}`
  const exports = Object.entries(env).map(([key, value]) => `${key}=${shellQuote(value)}`)
  const line = [...(exports.length ? ['env', ...exports] : []), ...command.map(shellQuote)].join(
    ' ',
  )
  const width = String(options.width ?? 120)
  const height = String(options.height ?? 40)
  // The status line is printed where the program left the cursor: after a last line without its
  // newline it shares that row, and the pattern, anchored to a line's start, does not match.
  // The sleep keeps the pane (and what the program last said) after it ends.
  const shell = `${line}; printf '[exited %d]\\n' $?; sleep 30`
  await tmux('new-session', '-d', '-s', name, '-x', width, '-y', height, shell)
  const session: TmuxSession = {
    async keys(...keys) {
      await tmux('send-keys', '-t', name, ...keys)
    },
    async type(text) {
      await tmux('send-keys', '-t', name, '-l', text)
    },
    screen: () => tmux('capture-pane', '-p', '-t', name),
    async scrollback() {
      const text = await tmux('capture-pane', '-p', '-J', '-S', '-', '-t', name)
      return text
        .split('\n')
        .map((row) => row.trimEnd())
        .join('\n')
    },
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
    async exited(timeoutMs = 15_000) {
      const screen = await session.waitFor(EXITED, timeoutMs)
      return { code: Number(EXITED.exec(screen)?.[1]), screen }
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
