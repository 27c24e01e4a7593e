// Entry of `bun run apps/term/client.ts`: start-up questions (clack), server trust, then the chat
// screen on a terminal or pipe mode (one line in, one event out) for scripts and bots.
import { join, resolve } from 'node:path'
import * as clack from '@clack/prompts'
import type { ChatEvent } from '../../shared/client/events.ts'
import { clientStateDir, createFileStores } from '../../shared/client/file-stores.ts'
import { refusalRemedy } from '../../shared/client/refusals.ts'
import { ChatError, type ChatSession, createChatSession } from '../../shared/client/session.ts'
import { tlsTransport } from '../../shared/client/tls-transport.ts'
import { DEFAULT_MAX_FILE_BYTES } from '../../shared/protocol/limits.ts'
import { checkName } from '../../shared/protocol/names.ts'
import { type ChatSurface, createChatController } from './chat.ts'
import { parseCommand } from './commands.ts'
import { formatEvent, formatEventJson, neutralize } from './format.ts'
import {
  loadOptions,
  parseServerAddress,
  type ServerAddress,
  type TermOptions,
  UsageError,
} from './options.ts'
import { createScreen } from './screen.ts'
import { establishTrust, TrustError } from './server-trust.ts'

const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY)

function quit(message: string, code: number): never {
  if (interactive) clack.cancel(message)
  else console.error(`chatbox: ${message}`)
  process.exit(code)
}

/** clack returns a symbol when the user cancels (Ctrl-C); every answer is checked for it. */
function answered<T>(value: T | symbol): Exclude<T, symbol> {
  if (clack.isCancel(value)) quit('cancelled', 130)
  return value as Exclude<T, symbol>
}

async function askServer(options: TermOptions): Promise<ServerAddress> {
  if (options.server) return options.server
  if (!interactive) return parseServerAddress('localhost:8444')
  const text = answered(
    await clack.text({
      message: 'Server (host:port of its terminal port)',
      initialValue: 'localhost:8444',
      validate: (value) => {
        try {
          parseServerAddress(value ?? '')
          return undefined
        } catch (error) {
          return (error as Error).message.replace(/^--server /, '')
        }
      },
    }),
  )
  return parseServerAddress(text)
}

async function askName(suggestion?: string, problem?: string): Promise<string> {
  if (!interactive) quit(problem ?? 'no name: pass --name NAME or set CHATBOX_NAME', 2)
  if (problem) clack.log.warn(problem)
  return answered(
    await clack.text({
      message: 'Your name in the room',
      initialValue: suggestion,
      validate: (value) => {
        const check = checkName(value ?? '')
        return check.ok ? undefined : check.message
      },
    }),
  )
}

async function askSecret(problem: string): Promise<string> {
  if (!interactive) quit(`${problem}: pass --secret or set CHATBOX_ROOM_SECRET`, 2)
  return answered(await clack.password({ message: `${problem}. Room secret` }))
}

/** Joins, asking again for a name or the secret when the server refuses them. */
async function joinRoom(
  options: TermOptions,
  address: ServerAddress,
  ca: string[] | undefined,
): Promise<ChatSession> {
  const stores = createFileStores(clientStateDir(options.configHome, address.label))
  let name = options.name && checkName(options.name).ok ? options.name : undefined
  name ??= await askName(options.name, options.name ? checkName(options.name).message : undefined)
  let secret = options.secret
  for (;;) {
    const session = createChatSession({
      connect: tlsTransport({
        hostname: address.host,
        port: address.port,
        ca,
        serverName: address.host,
      }),
      name,
      stores,
      secret,
    })
    const spinner = interactive ? clack.spinner() : undefined
    spinner?.start(`Joining ${address.label} as ${name}`)
    try {
      await session.connect()
      spinner?.stop(`Joined ${address.label} as ${name}`)
      return session
    } catch (error) {
      spinner?.error('Not joined')
      await session.close()
      if (!(error instanceof ChatError) || error.code !== 'refused') {
        quit(`cannot join ${address.label}: ${(error as Error).message}`, 1)
      }
      const remedy = error.serverCode ? refusalRemedy(error.serverCode) : 'give_up'
      if (remedy === 'ask_secret') secret = await askSecret(error.message)
      else if (remedy === 'ask_name') name = await askName(name, error.message)
      else quit(error.message, 1)
    }
  }
}

async function runScreen(session: ChatSession, options: TermOptions): Promise<void> {
  const screen = createScreen(process.stdin, process.stdout)
  const color = !process.env.NO_COLOR
  const surface: ChatSurface = { print: (text) => screen.print(text), confirm: screen.confirm }
  const controller = createChatController(session, surface, {
    downloadDir: options.downloadDir,
    maxFileBytes: DEFAULT_MAX_FILE_BYTES,
    format: (event) => formatEvent(event, { color }),
    notice: (text) => (color ? `\x1b[2m-- ${text}\x1b[0m` : `-- ${text}`),
  })
  session.on((event) => {
    if (event.type === 'status')
      screen.setPrompt(event.status === 'ready' ? '> ' : `[${event.status}] > `)
  })
  screen.print(`-- joined as ${neutralize(session.name)}; /help lists the commands`)
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
  // End of input: give the server a moment to take what was sent, then leave.
  const deadline = Date.now() + 15_000
  while (session.unacknowledged() > 0 && Date.now() < deadline) await Bun.sleep(20)
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
  if (interactive) clack.intro('chatbox')
  const address = await askServer(options)
  const certDir = process.env.CHATBOX_CERT_DIR ?? 'certs'
  let ca: string[] | undefined
  try {
    ca = await establishTrust({
      address,
      caFile: options.ca,
      localCaFiles: [
        resolve(certDir, 'ca.pem'),
        join(import.meta.dir, '..', '..', 'certs', 'ca.pem'),
      ],
      knownHostsFile: join(options.configHome, 'chatbox', 'known_hosts.json'),
      ask: interactive
        ? async (seen) => {
            clack.note(
              `SHA-256 ${seen.sha256}\nsubject ${seen.subject}\n\nCompare this fingerprint with ` +
                "the server operator's before trusting it.",
              `${address.label} has a self-signed certificate`,
            )
            return answered(await clack.confirm({ message: 'Trust and pin this certificate?' }))
          }
        : undefined,
    })
  } catch (error) {
    if (error instanceof TrustError) quit(error.message, 1)
    throw error
  }
  const session = await joinRoom(options, address, ca)
  if (interactive) clack.outro('Type a message and press Enter; /help lists the commands')
  if (interactive) await runScreen(session, options)
  else await runPipe(session, options)
  process.exit(0)
}

await main()
