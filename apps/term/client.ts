// Entry of `bun run apps/term/client.ts`: runs the start-up (start-up.ts) on the process's streams,
// the disk and the network, then the chat screen on a terminal or pipe mode (one line in, one
// event out) for scripts and bots.
import { join, resolve } from 'node:path'
import * as clack from '@clack/prompts'
import type { ChatEvent } from '../../shared/client/events.ts'
import { clientStateDir, createFileStores } from '../../shared/client/file-stores.ts'
import { type ChatSession, createChatSession } from '../../shared/client/session.ts'
import { tlsTransport } from '../../shared/client/tls-transport.ts'
import { DEFAULT_MAX_FILE_BYTES } from '../../shared/protocol/limits.ts'
import { type ChatSurface, createChatController } from './chat.ts'
import { parseCommand } from './commands.ts'
import { formatEvent, formatEventJson } from './format.ts'
import { neutralize, neutralizeLine } from './neutralize.ts'
import { loadOptions, type TermOptions, UsageError } from './options.ts'
import { createScreen } from './screen.ts'
import { establishTrust, TrustError } from './server-trust.ts'
import { StartUpError, startUp } from './start-up.ts'

const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY)

/** The message may quote the server or its certificate, so it is shown, never obeyed. */
function quit(message: string, code: number): never {
  if (interactive) clack.cancel(neutralize(message))
  else console.error(`chatbox: ${neutralize(message)}`)
  process.exit(code)
}

async function runScreen(session: ChatSession, options: TermOptions): Promise<void> {
  const screen = createScreen(process.stdin, process.stdout)
  const color = !process.env.NO_COLOR
  const surface: ChatSurface = { print: (text) => screen.print(text), confirm: screen.confirm }
  const controller = createChatController(session, surface, {
    downloadDir: options.downloadDir,
    saveQuota: options.saveQuota,
    maxFileBytes: DEFAULT_MAX_FILE_BYTES,
    format: (event) => formatEvent(event, { color }),
    notice: (text) => (color ? `\x1b[2m-- ${text}\x1b[0m` : `-- ${text}`),
  })
  session.on((event) => {
    if (event.type === 'status')
      screen.setPrompt(event.status === 'ready' ? '> ' : `[${event.status}] > `)
  })
  screen.print(`-- joined as ${neutralizeLine(session.name)}; /help lists the commands`)
  for await (const line of screen.lines()) {
    if ((await controller.run(line)) === 'quit') {
      screen.close()
      return
    }
  }
  // Ctrl-D or Ctrl-C: leave as cleanly as /quit.
  await session.leave()
}

async function runPipe(session: ChatSession, options: TermOptions): Promise<void> {
  const surface: ChatSurface = {
    print: (text) => process.stdout.write(`${text}\n`),
    confirm: async () => options.truncate,
  }
  const controller = createChatController(session, surface, {
    downloadDir: options.downloadDir,
    saveQuota: options.saveQuota,
    maxFileBytes: DEFAULT_MAX_FILE_BYTES,
    format: options.json
      ? formatEventJson
      : (event: ChatEvent) => formatEvent(event, { color: false })?.replaceAll('\n', '\\n'),
    notice: (text) => (options.json ? JSON.stringify({ type: 'notice', text }) : `-- ${text}`),
  })
  // Messages that arrive before this client is in the group wait for it, in order. A changed key
  // keeps it out until the user accepts it, so then they go on, to be refused with the reason,
  // and a /trust further down can still be read.
  for await (const line of console) {
    if (parseCommand(line).kind === 'message') await readyOrKeyChange(session)
    if ((await controller.run(line)) === 'quit') return
  }
  // End of input: wait until the room's log holds what was sent (15 s at most), then leave.
  await Promise.race([session.settled(), Bun.sleep(15_000)])
  await session.leave()
}

/** Resolves once the session is in the group, or a changed key waits for the user. */
function readyOrKeyChange(session: ChatSession): Promise<void> {
  if (session.pendingKeyChanges().length > 0) return Promise.resolve()
  const { promise, resolve } = Promise.withResolvers<void>()
  const stop = session.on((event) => {
    if (event.type === 'key-change') resolve()
  })
  session.whenReady().then(resolve, resolve)
  return promise.finally(stop)
}

async function main(): Promise<void> {
  let options: TermOptions
  try {
    options = loadOptions(process.argv.slice(2), process.env)
  } catch (error) {
    if (error instanceof UsageError) quit(error.message, 2)
    throw error
  }
  const certDir = process.env.CHATBOX_CERT_DIR ?? 'certs'
  let session: ChatSession
  try {
    session = await startUp(
      { input: process.stdin, output: process.stdout, interactive },
      options,
      {
        trust: (address, ask) =>
          establishTrust({
            address,
            caFile: options.ca,
            localCaFiles: [
              resolve(certDir, 'ca.pem'),
              join(import.meta.dir, '..', '..', 'certs', 'ca.pem'),
            ],
            knownHostsFile: join(options.configHome, 'chatbox', 'known_hosts.json'),
            ask,
          }),
        open: ({ address, ca, name, secret }) =>
          createChatSession({
            connect: tlsTransport({
              hostname: address.host,
              port: address.port,
              ca,
              serverName: address.host,
            }),
            name,
            stores: createFileStores(clientStateDir(options.configHome, address.label)),
            secret,
          }),
      },
    )
  } catch (error) {
    if (error instanceof StartUpError) quit(error.message, error.exitCode)
    if (error instanceof TrustError) quit(error.message, 1)
    throw error
  }
  if (interactive) await runScreen(session, options)
  else await runPipe(session, options)
  process.exit(0)
}

await main()
