// The slash commands as one registry that also writes /help; knows the session, not the screen.

import { describeSize } from '../../shared/client/files.ts'
import { ChatError, type ChatSession, type MemberView } from '../../shared/client/session.ts'
import { keyFingerprint } from '../../shared/crypto/fingerprint.ts'
import { nameKey } from '../../shared/protocol/names.ts'
import type { DeliveryMarks } from './delivery-marks.ts'
import { DEVICE_COMMANDS, type ShownDevices } from './device-commands.ts'
import { readFileForSending } from './downloads.ts'
import { neutralizeLine } from './neutralize.ts'
import { describeHelp, Refusal, type TermNotice } from './notices.ts'
import type { ReceivedFiles } from './received-files.ts'

/** What a command may use: the session, and the surface it prints on and asks on. */
export interface CommandContext {
  readonly session: Pick<
    ChatSession,
    | 'name'
    | 'identityKey'
    | 'personKey'
    | 'sendFile'
    | 'members'
    | 'loadAllMembers'
    | 'safetyNumber'
    | 'markVerified'
    | 'acceptKey'
    | 'roomCode'
    | 'leave'
    | 'clearHistory'
    | 'approveDevice'
    | 'devices'
    | 'unlinkDevice'
  >
  readonly maxFileBytes: number
  /** Own messages that failed, for sending one again. */
  readonly deliveries: Pick<DeliveryMarks, 'retry'>
  /** Received files, for saving one the save quota held back. */
  readonly files: Pick<ReceivedFiles, 'save'>
  /** The device list last shown, whose numbers /unlink takes. */
  readonly shownDevices: ShownDevices
  /** Prints as it is (the help list). */
  print(text: string): void
  /** Tells the user something, as fields (--json) or a sentence (notices.ts): never free text. */
  notify(notice: TermNotice): void
  /** A yes/no question; pipe mode answers from its flags without asking. */
  confirm(question: string, purpose: QuestionPurpose): Promise<boolean>
}

/** What a yes/no question is for: pipe mode answers each its own way (--truncate, never). */
export type QuestionPurpose = 'truncate' | 'verify'

export interface CommandSpec {
  readonly name: string
  /** Other words that run it, not listed in /help (/exit for /quit). */
  readonly aliases?: readonly string[]
  /** What the argument is, as /help shows it (PATH, NAME); the command refuses to run without. */
  readonly argument?: string
  /** One line for /help. */
  readonly help: string
  /**
   * Resolves 'quit' once the user has left the room; the chat goes on otherwise. Throws a
   * Refusal (notices.ts) for what it will not do.
   */
  run(context: CommandContext, argument: string): Promise<'quit' | undefined>
}

export type ParsedLine =
  | { readonly kind: 'message'; readonly text: string }
  | { readonly kind: 'command'; readonly command: CommandSpec; readonly argument: string }
  | {
      readonly kind: 'invalid'
      readonly code: 'unknown_command' | 'missing_argument'
      readonly problem: string
    }

export interface CommandRegistry {
  readonly commands: readonly CommandSpec[]
  parse(line: string): ParsedLine
  /** The /help rows: one per command in registry order, then how to send a literal slash. */
  rows(): { usage: string; help: string }[]
  /** The /help text, one line per row. */
  help(): string
}

/** Not a command but part of the grammar, so /help explains it too. */
const LITERAL_SLASH = { usage: '//text', help: 'send a message that starts with /' }

export function createCommandRegistry(commands: readonly CommandSpec[]): CommandRegistry {
  const byWord = new Map<string, CommandSpec>()
  for (const command of commands) {
    for (const word of [command.name, ...(command.aliases ?? [])]) {
      const key = word.toLowerCase()
      if (byWord.has(key)) throw new Error(`the command word /${key} is registered twice`)
      byWord.set(key, command)
    }
  }
  return {
    commands,
    parse(line) {
      if (!line.startsWith('/') || line.startsWith('//')) {
        return { kind: 'message', text: line.startsWith('//') ? line.slice(1) : line }
      }
      const [word = '', ...rest] = line.slice(1).split(' ')
      const argument = rest.join(' ').trim()
      const command = byWord.get(word.toLowerCase())
      if (!command) {
        const problem = `unknown command /${word}; /help lists them`
        return { kind: 'invalid', code: 'unknown_command', problem }
      }
      if (command.argument && !argument) {
        const problem = `/${word} needs a ${command.argument}`
        return { kind: 'invalid', code: 'missing_argument', problem }
      }
      return { kind: 'command', command, argument }
    },
    rows() {
      return [
        ...commands.map((command) => ({ usage: usageOf(command), help: command.help })),
        LITERAL_SLASH,
      ]
    },
    help() {
      return describeHelp(this.rows())
    },
  }
}

function usageOf(command: CommandSpec): string {
  return command.argument ? `/${command.name} ${command.argument}` : `/${command.name}`
}

/** `1.5 MiB, over the 1.0 MiB limit`; in bytes where rounding would make the two look alike. */
function overLimit(size: number, limit: number): string {
  if (describeSize(size) !== describeSize(limit)) {
    return `${describeSize(size)}, over the ${describeSize(limit)} limit`
  }
  const bytes = (count: number) => count.toLocaleString('en-US')
  return `${bytes(size)} bytes, over the limit of ${bytes(limit)}`
}

async function sendFile(context: CommandContext, path: string): Promise<undefined> {
  const { session, maxFileBytes } = context
  const file = await readFileForSending(path, maxFileBytes)
  try {
    await session.sendFile(file)
  } catch (error) {
    if (error instanceof ChatError && error.code === 'bad_file') {
      throw new Refusal('not_text', `not sent: ${file.name}: ${error.message}`, path)
    }
    if (!(error instanceof ChatError) || error.code !== 'file_too_large') throw error
    const over = overLimit(file.size, maxFileBytes)
    const question = `${file.name} is ${over}. Send only its beginning, marked as truncated?`
    if (!(await context.confirm(question, 'truncate'))) {
      throw new Refusal('too_large', `not sent: ${file.name}: it is ${over}`, path)
    }
    await session.sendFile(file, { truncate: true })
  }
}

async function retry(context: CommandContext, argument: string): Promise<undefined> {
  if (!/^\d{1,9}$/.test(argument)) {
    throw new Refusal('bad_number', '/retry takes the number a "not sent" line gave, e.g. /retry 2')
  }
  await context.deliveries.retry(Number(argument))
}

async function who(context: CommandContext): Promise<undefined> {
  const { session } = context
  // A large room's `ready` listed only its first page of who is online: the rest, now it is asked.
  await session.loadAllMembers()
  const members = await session.members()
  context.notify({
    type: 'who',
    members: members
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((member) => ({
        name: member.name,
        fingerprint: member.fingerprint,
        you: nameKey(member.name) === nameKey(session.name),
        online: member.online,
        inGroup: member.inGroup,
        verified: member.verified,
        keyChanged: member.keyChanged,
        ...(member.devices.length > 1 ? { devices: devicesOf(member, session.identityKey) } : {}),
      })),
  })
}

function devicesOf(member: MemberView, thisDevice: string) {
  return member.devices.map((device) => ({
    fingerprint: device.fingerprint,
    thisDevice: device.identityKey === thisDevice,
    online: device.online,
    inGroup: device.inGroup,
  }))
}

async function verify(context: CommandContext, name: string): Promise<undefined> {
  const { session } = context
  // There is no number to compare with yourself; your own key is what the others compare.
  if (nameKey(name) === nameKey(session.name)) {
    // Your person's key, as /who shows it to the others: on a linked device not this device's own.
    const fingerprint = await keyFingerprint(session.personKey || session.identityKey)
    context.notify({ type: 'self', name: session.name, fingerprint })
    return
  }
  context.notify({ type: 'safety-number', name, safetyNumber: await session.safetyNumber(name) })
  const shown = neutralizeLine(name)
  const question = `Does ${shown} see the same number? Mark ${shown} as verified?`
  if (await context.confirm(question, 'verify')) {
    await session.markVerified(name)
    context.notify({ type: 'verified', name })
  } else {
    context.notify({ type: 'not-verified', name })
  }
}

async function save(context: CommandContext, argument: string): Promise<undefined> {
  if (!/^\d{1,9}$/.test(argument)) {
    throw new Refusal(
      'bad_number',
      '/save takes the number a "not saved" notice gave, e.g. /save 3',
    )
  }
  context.notify(context.files.save(Number(argument)))
}

export const COMMANDS: CommandRegistry = createCommandRegistry([
  {
    name: 'help',
    help: 'this list',
    run: async (context) => {
      context.notify({ type: 'help', commands: COMMANDS.rows() })
    },
  },
  {
    name: 'who',
    help: 'who is here, with key fingerprints and verified marks',
    run: who,
  },
  {
    name: 'file',
    argument: 'PATH',
    help: 'send a .txt file',
    run: sendFile,
  },
  {
    name: 'save',
    argument: 'N',
    help: 'save received file N, which the save quota held back',
    run: save,
  },
  {
    name: 'retry',
    argument: 'N',
    help: 'send your message N again, which a "not sent" line numbered',
    run: retry,
  },
  {
    name: 'verify',
    argument: 'NAME',
    help: 'show the safety number to compare with NAME (then mark them verified)',
    run: verify,
  },
  {
    name: 'trust',
    argument: 'NAME',
    help: 'accept the changed key of NAME',
    run: async (context, name) => {
      await context.session.acceptKey(name)
      context.notify({ type: 'key-accepted', name })
    },
  },
  ...DEVICE_COMMANDS,
  {
    name: 'room',
    help: 'the room code: everyone in the group sees the same one',
    run: async (context) => {
      context.notify({ type: 'room-code', roomCode: (await context.session.roomCode()) ?? null })
    },
  },
  {
    name: 'clear-history',
    help: 'forget the messages this device keeps (others keep theirs)',
    run: async (context) => {
      const forgotten = await context.session.clearHistory()
      context.notify({ type: 'history-cleared', forgotten })
    },
  },
  {
    name: 'quit',
    aliases: ['exit'],
    help: 'leave the room (Ctrl-C and Ctrl-D do too)',
    run: async (context) => {
      await context.session.leave()
      return 'quit'
    },
  },
])

/** What a typed line means, by the terminal's registry. */
export function parseCommand(line: string): ParsedLine {
  return COMMANDS.parse(line)
}
