// The interactive chat screen: incoming lines appear above the input line and never garble what
// the user is typing. It takes its streams, so tests can drive it; no chat logic here.
import { createInterface, type Interface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'

export interface Screen {
  /** Prints above the input line, then redraws the prompt and the half-typed line as they were. */
  print(text: string): void
  /** Asks a yes/no question on the input line; the chat waits for the answer. */
  confirm(question: string): Promise<boolean>
  setPrompt(prompt: string): void
  /** Each line the user submits; Ctrl-D or Ctrl-C end it. */
  lines(): AsyncIterable<string>
  close(): void
}

export function createScreen(input: Readable, output: Writable & { isTTY?: boolean }): Screen {
  const readline: Interface = createInterface({ input, output, terminal: true, historySize: 200 })
  let prompt = '> '
  let question: ((answer: string) => void) | undefined
  const queue: string[] = []
  let wake: (() => void) | undefined
  let ended = false

  readline.setPrompt(prompt)
  readline.prompt()
  readline.on('line', (line) => {
    if (question) {
      const answer = question
      question = undefined
      readline.setPrompt(prompt)
      answer(line)
    } else {
      queue.push(line)
    }
    wake?.()
    readline.prompt()
  })
  const end = () => {
    ended = true
    wake?.()
  }
  readline.on('close', end)
  // Ctrl-C leaves the room cleanly instead of killing the process mid-write.
  readline.on('SIGINT', () => readline.close())

  return {
    print(text) {
      // Clear the input line, print, then let readline redraw the prompt and the typed text.
      output.write(`\r\x1b[2K${text.replaceAll('\n', '\r\n')}\r\n`)
      readline.prompt(true)
    },
    confirm(text) {
      return new Promise((resolve) => {
        question = (answer) => resolve(/^y(es)?$/i.test(answer.trim()))
        readline.setPrompt(`${text} [y/N] `)
        readline.prompt()
      })
    },
    setPrompt(next) {
      prompt = next
      if (!question) {
        readline.setPrompt(prompt)
        readline.prompt(true)
      }
    },
    async *lines() {
      for (;;) {
        const line = queue.shift()
        if (line !== undefined) {
          yield line
          continue
        }
        if (ended) return
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
      }
    },
    close() {
      readline.close()
    },
  }
}
