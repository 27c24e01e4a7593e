// The interactive chat screen: incoming lines appear above the input line and never garble what
// the user is typing, however many rows it wraps onto. It takes its streams, so tests can drive
// it; no chat logic here.
import { createInterface, type Interface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'

export interface Screen {
  /** Prints above the input line, then redraws the prompt and the half-typed line as they were. */
  print(text: string): void
  /** Asks a yes/no question on the input line; the chat waits for the answer. */
  confirm(question: string): Promise<boolean>
  setPrompt(prompt: string): void
  /** Each line the user submits; Ctrl-D or Ctrl-C end it (and answer a pending question no). */
  lines(): AsyncIterable<string>
  /**
   * Gives the terminal back: the input line is cleared, and what is printed from then on is
   * plain lines, so the last thing on the screen ends with a newline. Safe to call again.
   */
  close(): void
}

export interface ScreenOptions {
  readonly prompt?: string
  /**
   * Whether a submitted line's echo is taken off the screen: a message comes back as the room
   * has it (time, name), so its echo would show it twice. Commands keep theirs above their output.
   */
  readonly erasesEcho?: (line: string) => boolean
}

/** Up `rows` rows (none for 0), to the first column, and clear everything below. */
function clearFrom(rows: number): string {
  return `${rows > 0 ? `\x1b[${rows}A` : ''}\r\x1b[J`
}

export function createScreen(
  input: Readable,
  output: Writable & { isTTY?: boolean; columns?: number },
  options: ScreenOptions = {},
): Screen {
  const readline: Interface = createInterface({ input, output, terminal: true, historySize: 200 })
  let prompt = options.prompt ?? '> '
  let question: ((answer: string) => void) | undefined
  const queue: string[] = []
  let wake: (() => void) | undefined
  let closed = false

  readline.setPrompt(prompt)
  readline.prompt()
  readline.on('line', (line) => {
    // The input ended (the terminal went away) with a line half typed: Enter never sent it.
    if (input.readableEnded) return
    if (question) {
      const answer = question
      question = undefined
      readline.setPrompt(prompt)
      answer(line)
    } else {
      // Readline has moved below the submitted line: up over every row it took, and clear them.
      if (options.erasesEcho?.(line)) write(clearFrom(rowsOf(prompt + line) + 1))
      queue.push(line)
    }
    wake?.()
    readline.prompt()
  })
  readline.on('close', () => {
    // The input line goes: what is printed next starts at its first row.
    write(clearFrom(readline.getCursorPos().rows))
    closed = true
    // Ctrl-C or Ctrl-D at a question: the answer is no, and the chat ends after it.
    question?.('')
    question = undefined
    wake?.()
  })
  // Ctrl-C leaves the room cleanly instead of killing the process mid-write.
  readline.on('SIGINT', () => close())
  // A terminal that went away (its window closed) cannot leave raw mode: that is no reason to die
  // before leaving the room; the chat ends as it would on Ctrl-D.
  readline.on('error', () => {
    closed = true
    question?.('')
    question = undefined
    wake?.()
  })
  output.on('error', () => {})

  /** A write to a terminal that went away fails (EIO): nobody is left to read it anyway. */
  function write(text: string): void {
    try {
      output.write(text)
    } catch {}
  }

  /** Rows a prompt and line take below the first: readline wraps them at the pane's width. */
  function rowsOf(text: string): number {
    const columns = output.columns ?? 80
    return Math.floor(Bun.stringWidth(text) / columns)
  }

  function close(): void {
    if (!closed) readline.close()
  }

  return {
    print(text) {
      const lines = `${text.replaceAll('\n', '\r\n')}\r\n`
      if (closed) {
        write(lines)
        return
      }
      // The cursor may be on any row of a typed line that wraps: clear from the prompt's first row
      // down, print, and come down as many rows again, which is where readline's redraw begins
      // (it moves up by the cursor's row before drawing the prompt and the line once more).
      const { rows } = readline.getCursorPos()
      write(`${clearFrom(rows)}${lines}${'\n'.repeat(rows)}`)
      readline.prompt(true)
    },
    confirm(text) {
      if (closed) return Promise.resolve(false)
      return new Promise((resolve) => {
        question = (answer) => resolve(/^y(es)?$/i.test(answer.trim()))
        readline.setPrompt(`${text} [y/N] `)
        readline.prompt()
      })
    },
    setPrompt(next) {
      prompt = next
      if (closed || question) return
      readline.setPrompt(prompt)
      readline.prompt(true)
    },
    async *lines() {
      for (;;) {
        const line = queue.shift()
        if (line !== undefined) {
          yield line
          continue
        }
        if (closed) return
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
      }
    },
    close,
  }
}
