// Entry of `bun run apps/term/client.ts`: runs the start-up (start-up.ts) on the process's streams,
// the disk and the network, then the chat screen on a terminal or pipe mode (one line in, one
// event out) for scripts and bots.
import { join, resolve } from 'node:path'
import * as clack from '@clack/prompts'
import type { ConnectionStatus } from '../../shared/client/events.ts'
import { createFileStores } from '../../shared/client/file-stores.ts'
import { DAY_MS } from '../../shared/client/history.ts'
import type { BackupContent } from '../../shared/client/identity-backup.ts'
import { type ChatSession, createChatSession } from '../../shared/client/session.ts'
import { tlsTransport } from '../../shared/client/tls-transport.ts'
import { BEL } from './bell.ts'
import { type ChatSurface, createChatController } from './chat.ts'
import { parseCommand } from './commands.ts'
import { GRACE_MS } from './delivery-marks.ts'
import { earlierLines, holdSurface } from './earlier.ts'
import { safeJson } from './format.ts'
import {
  exportIdentity,
  IdentityFileError,
  installIdentity,
  readIdentityFile,
} from './identity-file.ts'
import { createJoiningLines } from './joining-lines.ts'
import { neutralize, neutralizeLine } from './neutralize.ts'
import {
  loadOptions,
  parseServerAddress,
  type ServerAddress,
  type TermOptions,
  UsageError,
} from './options.ts'
import { speaksHttps } from './port-check.ts'
import { createScreen } from './screen.ts'
import { knownStateDir, serverStateDir } from './server-dir.ts'
import { type CertificateSeen, establishTrust, TrustError } from './server-trust.ts'
import { DEFAULT_SERVER, StartUpError, startUp } from './start-up.ts'
import { createView } from './view.ts'

const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY)

/** The message may quote the server or its certificate, so it is shown, never obeyed. */
function quit(message: string, code: number): never {
  if (interactive) clack.cancel(neutralize(message))
  else console.error(`chatbox: ${neutralize(message)}`)
  process.exit(code)
}

/** The prompt says the connection's state until the client is in the group. */
function promptFor(status: ConnectionStatus): string {
  return status === 'ready' ? '> ' : `[${status}] > `
}

/** SIGTERM and SIGHUP (a closed terminal window) end the chat as Ctrl-C does. */
function onTermination(end: () => void): void {
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.once(signal, end)
}

async function runScreen(session: ChatSession, options: TermOptions): Promise<void> {
  const view = createView({
    color: options.color,
    verbose: options.verbose,
    json: false,
    multiline: true,
  })
  const screen = createScreen(process.stdin, process.stdout, {
    prompt: promptFor(session.status),
    erasesEcho: (line) => parseCommand(line).kind === 'message',
  })
  const surface: ChatSurface = { print: (text) => screen.print(text), confirm: screen.confirm }
  // Live lines wait until the history kept on this device is printed above them.
  const held = holdSurface(surface)
  const format = view.event
  const notice = view.line
  const controller = createChatController(session, held.surface, {
    downloadDir: options.downloadDir,
    saveQuota: options.saveQuota,
    format,
    notice,
    renderNotice: view.notice,
    bell: options.bell === false ? undefined : () => process.stdout.write(BEL),
    graceMs: GRACE_MS,
  })
  held.release(earlierLines(await session.history(), { format, notice }))
  session.on((event) => {
    // Closed is the end: the prompt goes with the screen, not redrawn as `[closed] > `.
    if (event.type === 'status' && event.status !== 'closed') {
      screen.setPrompt(promptFor(event.status))
    }
  })
  screen.print(view.line(`joined as ${neutralizeLine(session.name)}; /help lists the commands`))
  onTermination(() => screen.close())
  let left = false
  for await (const line of screen.lines()) {
    if ((await controller.run(line)) === 'quit') {
      left = true
      break
    }
  }
  // /quit has left; Ctrl-C, Ctrl-D or a signal leave the same way, once the screen is given back.
  screen.close()
  if (!left) await session.leave()
  screen.print(view.line('you left the room'))
}

/** Pipe mode; resolves with the exit status: 1 when a line was refused or a message lost. */
async function runPipe(session: ChatSession, options: TermOptions): Promise<number> {
  const view = createView({
    color: false,
    verbose: options.verbose,
    json: options.json,
    multiline: false,
  })
  const surface: ChatSurface = {
    print: (text) => process.stdout.write(`${text}\n`),
    // --truncate answers the one question a script can; nobody compared a safety number.
    confirm: async (_question, purpose) => purpose === 'truncate' && options.truncate,
  }
  const controller = createChatController(session, surface, {
    downloadDir: options.downloadDir,
    saveQuota: options.saveQuota,
    // Off unless asked for: a script's output is not a terminal. A BEL would break a JSON line.
    bell: options.bell && !options.json ? () => process.stdout.write(BEL) : undefined,
    json: options.json ? safeJson : undefined,
    format: view.event,
    notice: (text) => (options.json ? JSON.stringify({ type: 'notice', text }) : view.line(text)),
    renderNotice: view.notice,
  })
  // A script stopped by a signal still leaves the room; the status says it was stopped.
  onTermination(() => session.leave().then(() => process.exit(143)))
  process.once('SIGINT', () => session.leave().then(() => process.exit(130)))
  let lines = 0
  let refused = 0
  // Lines that arrive before this client is in the group wait for it, in order (so /who lists
  // the group). A changed key keeps it out until the user accepts it, so then they go on, to be
  // refused with the reason, and a /trust further down can still be read.
  for await (const line of console) {
    if (line.trim() !== '') lines += 1
    await readyOrKeyChange(session)
    const outcome = await controller.run(line)
    if (outcome === 'refused') refused += 1
    if (outcome === 'quit') break
  }
  // End of input: wait until the room's log holds what was sent (15 s at most), then leave.
  await Promise.race([session.settled(), Bun.sleep(15_000)])
  const unconfirmed = session.unacknowledged()
  if (session.status !== 'closed') await session.leave()
  if (refused > 0) console.error(`chatbox: ${refused} of ${lines} lines were refused`)
  if (unconfirmed > 0) {
    console.error(`chatbox: ${unconfirmed} message(s) not confirmed by the server`)
  }
  return refused > 0 || unconfirmed > 0 ? 1 : 0
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
  // The prompts (clack) know only NO_COLOR: --no-color reaches them through it.
  if (!options.color) process.env.NO_COLOR = '1'
  const certDir = process.env.CHATBOX_CERT_DIR ?? 'certs'
  const passphrase = { fromEnv: process.env.CHATBOX_IDENTITY_PASSPHRASE, interactive }
  const trust = async (
    address: ServerAddress,
    ask: ((seen: CertificateSeen) => Promise<boolean>) | undefined,
  ) => {
    const trusted = await establishTrust({
      address,
      caFile: options.ca,
      localCaFiles: [
        resolve(certDir, 'ca.pem'),
        join(import.meta.dir, '..', '..', 'certs', 'ca.pem'),
      ],
      knownHostsFile: join(options.configHome, 'chatbox', 'known_hosts.json'),
      ask,
    })
    // The state follows the server's key, not the address typed (server-dir.ts).
    stateDirs.set(
      address.label,
      serverStateDir(options.configHome, address.label, trusted.serverId),
    )
    return trusted.ca
  }
  const stateDirs = new Map<string, string>()
  const stateDir = (address: ServerAddress) => {
    const dir = stateDirs.get(address.label)
    if (!dir) throw new Error(`${address.label} was opened before it was trusted`)
    return dir
  }
  let restored: BackupContent | undefined
  try {
    if (options.exportIdentity) {
      const address = options.server ?? parseServerAddress(DEFAULT_SERVER)
      // Offline when this address was used before: a backup is most wanted when things break.
      let dir = knownStateDir(options.configHome, address.label)
      if (!dir) {
        await trust(address, undefined)
        dir = stateDir(address)
      }
      console.log(await exportIdentity(dir, options.exportIdentity, options.name, passphrase))
      process.exit(0)
    }
    restored = options.importIdentity
      ? await readIdentityFile(options.importIdentity, passphrase)
      : undefined
    if (restored) options = { ...options, name: options.name ?? restored.name }
  } catch (error) {
    if (error instanceof IdentityFileError || error instanceof TrustError) quit(error.message, 1)
    throw error
  }
  // A new device's link code, as the mode it runs in prints events: a line, or JSON with --json.
  const joining = createJoiningLines(
    createView({
      color: interactive && options.color,
      verbose: false,
      json: !interactive && options.json,
      multiline: interactive,
    }),
  )
  let session: ChatSession
  try {
    session = await startUp(
      { input: process.stdin, output: process.stdout, interactive, joining },
      options,
      {
        trust: async (address, ask) => {
          const ca = await trust(address, ask)
          if (restored) await installIdentity(stateDir(address), restored)
          return ca
        },
        speaksHttps,
        open: ({ address, ca, name, secret }) =>
          createChatSession({
            connect: tlsTransport({
              hostname: address.host,
              port: address.port,
              ca,
              serverName: address.host,
            }),
            name,
            stores: createFileStores(stateDir(address)),
            history: {
              maxMessages: options.historyMessages,
              maxAgeMs: options.historyDays * DAY_MS,
            },
            secret,
            ...(options.invite === undefined ? {} : { invite: options.invite }),
            ...(options.linkDevice ? { linkDevice: true } : {}),
          }),
      },
    )
  } catch (error) {
    if (error instanceof StartUpError) quit(error.message, error.exitCode)
    if (error instanceof TrustError || error instanceof IdentityFileError) quit(error.message, 1)
    throw error
  }
  if (interactive) {
    await runScreen(session, options)
    process.exit(0)
  }
  process.exit(await runPipe(session, options))
}

await main()
