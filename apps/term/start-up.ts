// The clack start-up on injected streams: server, certificate, name, secret, and a new device's
// link code while it waits to be approved; no sockets, no exit.
import type { Readable, Writable } from 'node:stream'
import * as clack from '@clack/prompts'
import type { ChatEvent, ChatListener } from '../../shared/client/events.ts'
import { refusalRemedy } from '../../shared/client/refusals.ts'
import { ChatError } from '../../shared/client/session.ts'
import { checkName } from '../../shared/protocol/names.ts'
import { neutralizeLine } from './neutralize.ts'
import { parseServerAddress, type ServerAddress, type TermOptions } from './options.ts'
import { type CertificateSeen, UnreachableError } from './server-trust.ts'

export interface StartUpIo {
  readonly input: Readable
  readonly output: Writable
  /** A person answers at a terminal; without one, anything missing ends the start-up. */
  readonly interactive: boolean
  /**
   * What an event that comes while joining reads as (a new device's link code, `linked`), on
   * lines of its own; undefined leaves it out.
   */
  readonly joining?: (event: ChatEvent, name: string) => string | undefined
}

/** Start-up cannot go on: what to tell the user, and the process's exit code. */
export class StartUpError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

/**
 * The address does not lead to a chatbox terminal port (nothing answers, or a web server does):
 * a person is asked for another, with `suggestion` filled in; a script ends with the message.
 */
export class WrongAddressError extends StartUpError {
  constructor(
    message: string,
    readonly suggestion: string,
  ) {
    super(message, 1)
  }
}

/** What a join attempt needs of a session; the engine's ChatSession is one. */
export interface Joinable {
  connect(): Promise<void>
  close(): Promise<void>
  /** Events before `connect` resolves: a device started with --link-device shows its code. */
  on?(listener: ChatListener): () => void
}

export interface JoinAttempt {
  readonly address: ServerAddress
  readonly ca: string[] | undefined
  readonly name: string
  readonly secret: string | undefined
}

/** The steps that touch the network or the disk, given by the entry point (and by tests). */
export interface StartUpSteps<S extends Joinable> {
  /** The CA list to connect with; `ask` asks the user to pin a self-signed certificate. */
  trust(
    address: ServerAddress,
    ask: ((seen: CertificateSeen) => Promise<boolean>) | undefined,
  ): Promise<string[] | undefined>
  /** A fresh session for each attempt: a refused one is closed, never reused. */
  open(attempt: JoinAttempt): S
  /**
   * After a join failed for a reason the server did not give: whether the address speaks HTTPS
   * instead, as chatbox's web port does (port-check.ts).
   */
  speaksHttps?(address: ServerAddress, ca: string[] | undefined): Promise<boolean>
}

const DEFAULT_TERMINAL_PORT = 8444
export const DEFAULT_SERVER = `localhost:${DEFAULT_TERMINAL_PORT}`

/**
 * From the options to a session that has joined: asks for what the options leave out, and again
 * for the name or the secret when the server refuses them. Throws StartUpError to end it.
 */
export async function startUp<S extends Joinable>(
  io: StartUpIo,
  options: Pick<TermOptions, 'server' | 'name' | 'secret'>,
  steps: StartUpSteps<S>,
): Promise<S> {
  const streams = { input: io.input, output: io.output }

  /** clack returns a symbol when the user cancels (Ctrl-C); every answer is checked for it. */
  function answered<T>(value: T | symbol): Exclude<T, symbol> {
    if (clack.isCancel(value)) throw new StartUpError('cancelled', 130)
    return value as Exclude<T, symbol>
  }

  async function askServer(suggestion = DEFAULT_SERVER): Promise<ServerAddress> {
    const text = answered(
      await clack.text({
        ...streams,
        message: 'Server (host:port of its terminal port)',
        initialValue: suggestion,
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

  async function askToPin(address: ServerAddress, seen: CertificateSeen): Promise<boolean> {
    // The subject is whatever the server's certificate says, so it is shown as text.
    clack.note(
      `SHA-256 ${seen.sha256}\nsubject ${neutralizeLine(seen.subject)}\n\n` +
        "Compare this fingerprint with the server operator's before trusting it.",
      `${address.label} has a self-signed certificate`,
      streams,
    )
    return answered(await clack.confirm({ ...streams, message: 'Trust and pin this certificate?' }))
  }

  async function askName(suggestion?: string, problem?: string): Promise<string> {
    if (!io.interactive) {
      throw new StartUpError(problem ?? 'no name: pass --name NAME or set CHATBOX_NAME', 2)
    }
    if (problem) clack.log.warn(problem, streams)
    return answered(
      await clack.text({
        ...streams,
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
    if (!io.interactive) {
      throw new StartUpError(`${problem}: pass --secret or set CHATBOX_ROOM_SECRET`, 2)
    }
    return answered(await clack.password({ ...streams, message: `${problem}. Room secret` }))
  }

  /** Joins, asking again for a name or the secret when the server refuses them. */
  async function join(address: ServerAddress, ca: string[] | undefined): Promise<S> {
    const given = options.name
    let name = given && checkName(given).ok ? given : undefined
    name ??= await askName(given, given ? checkName(given).message : undefined)
    let secret = options.secret
    for (;;) {
      const session = steps.open({ address, ca, name, secret })
      const spinner = io.interactive ? clack.spinner({ output: io.output }) : undefined
      const joining = `Joining ${address.label} as ${name}`
      spinner?.start(joining)
      // A new device waits here, not admitted, until a device of the name approves its code.
      const asked = name
      const stop = session.on?.((event) => {
        const text = io.joining?.(event, asked)
        if (text === undefined) return
        spinner?.clear()
        io.output.write(`${text}\n`)
        spinner?.start(
          event.type === 'link-code' ? `Waiting for a device of ${asked} to approve` : joining,
        )
      })
      try {
        await session.connect()
        spinner?.stop(`Joined ${address.label} as ${name}`)
        return session
      } catch (error) {
        spinner?.error('Not joined')
        await session.close()
        // The reason is the server's own words: shown on one line, never obeyed by the terminal.
        const reason = neutralizeLine((error as Error).message)
        if (!(error instanceof ChatError) || error.code !== 'refused') {
          if (await steps.speaksHttps?.(address, ca)) {
            throw new WrongAddressError(
              `cannot join ${address.label}: it answers HTTPS: that looks like chatbox's web ` +
                `port; the terminal port is usually ${DEFAULT_TERMINAL_PORT}`,
              `${address.label.replace(/:\d+$/, '')}:${DEFAULT_TERMINAL_PORT}`,
            )
          }
          throw new StartUpError(`cannot join ${address.label}: ${reason}`, 1)
        }
        const remedy = error.serverCode ? refusalRemedy(error.serverCode) : 'give_up'
        if (remedy === 'ask_secret') secret = await askSecret(reason)
        else if (remedy === 'ask_name') name = await askName(name, reason)
        else throw new StartUpError(reason, 1)
      } finally {
        stop?.()
      }
    }
  }

  /** Trust, then join; an address that leads nowhere is a WrongAddressError. */
  async function reach(address: ServerAddress): Promise<S> {
    const ask = io.interactive ? (seen: CertificateSeen) => askToPin(address, seen) : undefined
    let ca: string[] | undefined
    try {
      ca = await steps.trust(address, ask)
    } catch (error) {
      if (error instanceof UnreachableError) {
        throw new WrongAddressError(error.message, address.label)
      }
      throw error
    }
    return join(address, ca)
  }

  if (io.interactive) clack.intro('chatbox', streams)
  let address =
    options.server ?? (io.interactive ? await askServer() : parseServerAddress(DEFAULT_SERVER))
  let session: S
  for (;;) {
    try {
      session = await reach(address)
      break
    } catch (error) {
      // A person may have mistyped the address: ask again rather than end.
      if (!(error instanceof WrongAddressError) || !io.interactive) throw error
      clack.log.warn(neutralizeLine(error.message), streams)
      address = await askServer(error.suggestion)
    }
  }
  if (io.interactive) {
    // The chat screen's first line says how to get help: said once, not here too.
    clack.outro('Type a message and press Enter', streams)
  }
  return session
}
