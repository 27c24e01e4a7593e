// The running server's control socket: a Unix socket in the data directory that `bun run admin`
// asks, one JSON line each way. Only the server's own user reaches it (a 0600 socket in a 0700
// directory): whoever can use it could read the database file anyway.
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import * as v from 'valibot'
import {
  type ControlReply,
  ControlReplySchema,
  type ControlRequest,
  ControlRequestSchema,
} from './control.ts'

/** A request longer than this is not one `bun run admin` sends. */
const MAX_REQUEST_BYTES = 4096

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'admin', 'control.sock')
}

export interface ControlSocket {
  readonly path: string
  stop(): void
}

/** Listens on the data directory's control socket; a stale one (a server killed) is replaced. */
export function listenControlSocket(
  dataDir: string,
  answer: (request: ControlRequest) => Promise<ControlReply>,
): ControlSocket {
  const path = controlSocketPath(dataDir)
  const dir = join(dataDir, 'admin')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  rmSync(path, { force: true })
  const listener = Bun.listen<{ text: string; decoder: TextDecoder }>({
    unix: path,
    socket: {
      open(socket) {
        // One decoder per socket: a name's character may be split between two reads.
        socket.data = { text: '', decoder: new TextDecoder() }
      },
      data(socket, bytes) {
        socket.data.text += socket.data.decoder.decode(bytes, { stream: true })
        if (socket.data.text.length > MAX_REQUEST_BYTES) {
          socket.end(`${JSON.stringify({ ok: false, error: 'request too long' })}\n`)
          return
        }
        const end = socket.data.text.indexOf('\n')
        if (end < 0) return
        const reply = (r: ControlReply) => {
          socket.end(`${JSON.stringify(r)}\n`)
        }
        const parsed = v.safeParse(ControlRequestSchema, parseJson(socket.data.text.slice(0, end)))
        if (!parsed.success) {
          reply({ ok: false, error: 'not a request this server knows' })
          return
        }
        answer(parsed.output).then(reply, (error: Error) =>
          reply({ ok: false, error: error.message }),
        )
      },
    },
  })
  chmodSync(path, 0o600)
  return {
    path,
    stop() {
      listener.stop(true)
      rmSync(path, { force: true })
    },
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The reply of the server listening in `dataDir`, or null when none listens there. */
export async function askControlSocket(
  dataDir: string,
  request: ControlRequest,
): Promise<ControlReply | null> {
  const { promise, resolve, reject } = Promise.withResolvers<string | null>()
  let text = ''
  const decoder = new TextDecoder()
  try {
    const socket = await Bun.connect({
      unix: controlSocketPath(dataDir),
      socket: {
        data(_socket, bytes) {
          text += decoder.decode(bytes, { stream: true })
        },
        close: () => resolve(text),
        error: (_socket, error) => reject(error),
      },
    })
    socket.write(`${JSON.stringify(request)}\n`)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // No socket, or one left by a server that is gone: nobody is listening.
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return null
    throw error
  }
  const line = await promise
  const parsed = v.safeParse(ControlReplySchema, parseJson(line ?? ''))
  if (!parsed.success) throw new Error(`the server's control socket answered: ${line}`)
  return parsed.output
}
