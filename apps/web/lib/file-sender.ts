// Sending a file from the page: read it (unless far too large), check it is text within the limit,
// ask before sending the head of a large one, and say what went wrong. The engine encrypts and
// sends; chat.ts owns the session and the store this reports into.
import { checkTextFile, describeSize } from '../../../shared/client/files.ts'
import type { ChatSession } from '../../../shared/client/session.ts'
import { PROBLEM_TEXTS } from './copy.ts'

/** A file this big is refused before reading it: the page would stall for nothing. */
const MAX_READ_BYTES = 64 * 1024 * 1024

export interface FileSenderOptions {
  session(): ChatSession | undefined
  maxFileBytes(): number
  /** What went wrong, said for the user; undefined clears it. */
  setProblem(problem: string | undefined): void
  /** A file over the limit waits for "send the head" or "cancel"; undefined when answered. */
  setOversize(oversize: { readonly name: string; readonly size: number } | undefined): void
  /** The engine refused the send: the caller says why. */
  failed(error: unknown): void
}

export function createFileSender(options: FileSenderOptions) {
  let pendingFile: { name: string; bytes: Uint8Array } | undefined

  async function sendBytes(file: { name: string; bytes: Uint8Array }, truncate: boolean) {
    const session = options.session()
    if (!session) return
    try {
      await session.sendFile(file, { truncate })
      options.setProblem(undefined)
    } catch (error) {
      options.failed(error)
    }
  }

  return {
    async sendFile(file: File): Promise<void> {
      if (!options.session()) return
      // A new file's outcome (or its question) replaces what went wrong with the last one.
      options.setProblem(undefined)
      if (file.size > MAX_READ_BYTES) {
        options.setProblem(PROBLEM_TEXTS.tooLargeToRead(file.name, describeSize(file.size)))
        return
      }
      const bytes = new Uint8Array(await file.arrayBuffer())
      const check = checkTextFile(file.name, bytes, options.maxFileBytes())
      if (!check.ok && check.code === 'too_large') {
        pendingFile = { name: file.name, bytes }
        options.setOversize({ name: file.name, size: bytes.length })
        return
      }
      if (!check.ok) {
        options.setProblem(PROBLEM_TEXTS.cannotSend(file.name, check.message))
        return
      }
      await sendBytes({ name: file.name, bytes }, false)
    },

    /** Answers the oversize question: send the truncated head, or drop the file. */
    async resolveOversize(send: boolean): Promise<void> {
      const file = pendingFile
      pendingFile = undefined
      options.setOversize(undefined)
      if (send && file) await sendBytes(file, true)
    },
  }
}
