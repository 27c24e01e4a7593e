// The slash commands as one registry that also writes /help; knows the session, not the screen.
import { describeSize } from '../../shared/client/files.ts'
import { ChatError, type ChatSession } from '../../shared/client/session.ts'
import { readFileForSending } from './downloads.ts'
import { neutralizeLine } from './neutralize.ts'
import type { ReceivedFiles } from './received-files.ts'

/** What a command may use: the session, and the surface it prints on and asks on. */
export interface CommandContext {
  readonly session: Pick<
    ChatSession,
    'sendFile' | 'members' | 'safetyNumber' | 'markVerified' | 'acceptKey' | 'roomCode' | 'leave'
  >
  readonly maxFileBytes: number
  /** Received files, for saving one the save quota held back. */
  readonly files: Pick<ReceivedFiles, 'save'>
  /** Prints as it is (the help list). */
  print(text: string): void
  /** Prints a notice from the client itself. */
  say(text: string): void
  /** A yes/no question; pipe mode answers from its flags without asking. */
  confirm(question: string): Promise<boolean>
}

export interface CommandSpec {
  readonly name: string
  /** Other words that run it, not listed in /help (/exit for /quit). */
  readonly aliases?: readonly string[]
  /** What the argument is, as /help shows it (PATH, NAME); the command refuses to run without. */
  readonly argument?: string
  /** One line for /help. */
  readonly help: string
  /** Resolves 'quit' once the user has left the room; the chat goes on otherwise. */
  run(context: CommandContext, argument: string): Promise<'quit' | undefined>
}

export type ParsedLine =
  | { readonly kind: 'message'; readonly text: string }
  | { readonly kind: 'command'; readonly command: CommandSpec; readonly argument: string }
  | { readonly kind: 'invalid'; readonly problem: string }

export interface CommandRegistry {
  readonly commands: readonly CommandSpec[]
  parse(line: string): ParsedLine
  /** The /help text: one line per command in registry order, then how to send a literal slash. */
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
      if (!command)
        return { kind: 'invalid', problem: `unknown command /${word}; /help lists them` }
      if (command.argument && !argument) {
        return { kind: 'invalid', problem: `/${word} needs a ${command.argument}` }
      }
      return { kind: 'command', command, argument }
    },
    help() {
      const rows = [
        ...commands.map((command) => ({ usage: usageOf(command), help: command.help })),
        LITERAL_SLASH,
      ]
      // Five spaces after the longest usage, as the hand-written list had.
      const column = Math.max(...rows.map((row) => row.usage.length)) + 5
      return rows.map((row) => `${row.usage.padEnd(column)}${row.help}`).join('\n')
    },
  }
}

function usageOf(command: CommandSpec): string {
  return command.argument ? `/${command.name} ${command.argument}` : `/${command.name}`
}

async function sendFile(context: CommandContext, path: string): Promise<undefined> {
  const { session, maxFileBytes } = context
  const file = await readFileForSending(path, maxFileBytes)
  try {
    await session.sendFile(file)
  } catch (error) {
    if (!(error instanceof ChatError) || error.code !== 'file_too_large') throw error
    const question =
      `${file.name} is ${describeSize(file.size)}, over the ${describeSize(maxFileBytes)} ` +
      'limit. Send only its beginning, marked as truncated?'
    if (!(await context.confirm(question))) {
      context.say(`not sent: ${file.name}`)
      return
    }
    await session.sendFile(file, { truncate: true })
  }
}

async function who(context: CommandContext): Promise<undefined> {
  const members = await context.session.members()
  for (const member of members.sort((a, b) => a.name.localeCompare(b.name))) {
    const marks = [
      member.online ? 'online' : 'away',
      member.inGroup ? 'in group' : 'not in group',
      member.verified ? 'verified ✓' : 'not verified',
      member.keyChanged ? 'KEY CHANGED' : '',
    ].filter(Boolean)
    context.say(`${neutralizeLine(member.name)}  ${member.fingerprint}  (${marks.join(', ')})`)
  }
}

async function verify(context: CommandContext, typed: string): Promise<undefined> {
  const number = await context.session.safetyNumber(typed)
  const name = neutralizeLine(typed)
  context.say(
    `safety number with ${name}:\n   ${number}\n   compare it with ${name} over another channel`,
  )
  if (await context.confirm(`Does ${name} see the same number? Mark ${name} as verified?`)) {
    await context.session.markVerified(typed)
    context.say(`${name} is verified`)
  }
}

async function save(context: CommandContext, argument: string): Promise<undefined> {
  if (!/^\d{1,9}$/.test(argument)) {
    context.say('/save takes the number a "not saved" notice gave, e.g. /save 3')
    return
  }
  context.say(context.files.save(Number(argument)))
}

export const COMMANDS: CommandRegistry = createCommandRegistry([
  {
    name: 'help',
    help: 'this list',
    run: async (context) => {
      context.print(COMMANDS.help())
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
      context.say(`the new key of ${neutralizeLine(name)} is accepted; sending resumes`)
    },
  },
  {
    name: 'room',
    help: 'the room code: everyone in the group sees the same one',
    run: async (context) => {
      context.say(
        `room code: ${(await context.session.roomCode()) ?? 'none yet (not in the group)'}`,
      )
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
