// Binds the engine to a terminal surface: runs typed commands, prints events, saves received
// files. Shared by the interactive screen and pipe mode, which differ only in their surface.

import type { ChatEvent } from '../../shared/client/events.ts'
import { describeSize } from '../../shared/client/files.ts'
import { ChatError, type ChatSession } from '../../shared/client/session.ts'
import { HELP, parseCommand } from './commands.ts'
import { readFileForSending, saveReceivedFile } from './downloads.ts'
import { neutralize } from './format.ts'

export interface ChatSurface {
  /** Prints one event or notice; may be several lines. */
  print(text: string): void
  /** A yes/no question; pipe mode answers from its flags without asking. */
  confirm(question: string): Promise<boolean>
}

export interface ChatControllerOptions {
  readonly downloadDir: string
  readonly maxFileBytes: number
  readonly format: (event: ChatEvent) => string | undefined
  /** How a notice from the client itself (not an event) is shown. */
  readonly notice: (text: string) => string
}

export interface ChatController {
  /** Runs one typed line; resolves 'quit' once the user has left. */
  run(line: string): Promise<'continue' | 'quit'>
}

export function createChatController(
  session: ChatSession,
  surface: ChatSurface,
  options: ChatControllerOptions,
): ChatController {
  const say = (text: string) => surface.print(options.notice(text))

  session.on((event) => {
    const text = options.format(event)
    if (text !== undefined) surface.print(text)
    if (event.type === 'file' && !event.own) {
      try {
        say(`saved to ${saveReceivedFile(options.downloadDir, event.name, event.bytes)}`)
      } catch (error) {
        say(`could not save ${neutralize(event.name)}: ${(error as Error).message}`)
      }
    }
  })

  async function sendFile(path: string): Promise<void> {
    const file = await readFileForSending(path, options.maxFileBytes)
    try {
      await session.sendFile(file)
    } catch (error) {
      if (!(error instanceof ChatError) || error.code !== 'file_too_large') throw error
      const question =
        `${file.name} is ${describeSize(file.size)}, over the ${describeSize(options.maxFileBytes)} ` +
        'limit. Send only its beginning, marked as truncated?'
      if (!(await surface.confirm(question))) {
        say(`not sent: ${file.name}`)
        return
      }
      await session.sendFile(file, { truncate: true })
    }
  }

  async function who(): Promise<void> {
    const members = await session.members()
    for (const member of members.sort((a, b) => a.name.localeCompare(b.name))) {
      const marks = [
        member.online ? 'online' : 'away',
        member.inGroup ? 'in group' : 'not in group',
        member.verified ? 'verified ✓' : 'not verified',
        member.keyChanged ? 'KEY CHANGED' : '',
      ].filter(Boolean)
      say(`${member.name}  ${member.fingerprint}  (${marks.join(', ')})`)
    }
  }

  async function verify(name: string): Promise<void> {
    const number = await session.safetyNumber(name)
    say(
      `safety number with ${name}:\n   ${number}\n   compare it with ${name} over another channel`,
    )
    if (await surface.confirm(`Does ${name} see the same number? Mark ${name} as verified?`)) {
      await session.markVerified(name)
      say(`${name} is verified`)
    }
  }

  return {
    async run(line) {
      const command = parseCommand(line)
      try {
        switch (command.kind) {
          case 'message':
            if (command.text.trim() !== '') await session.sendText(command.text)
            return 'continue'
          case 'help':
            surface.print(HELP)
            return 'continue'
          case 'who':
            await who()
            return 'continue'
          case 'file':
            await sendFile(command.path)
            return 'continue'
          case 'verify':
            await verify(command.name)
            return 'continue'
          case 'trust':
            await session.acceptKey(command.name)
            say(`the new key of ${command.name} is accepted; sending resumes`)
            return 'continue'
          case 'room':
            say(`room code: ${(await session.roomCode()) ?? 'none yet (not in the group)'}`)
            return 'continue'
          case 'quit':
            await session.leave()
            return 'quit'
          case 'invalid':
            say(command.problem)
            return 'continue'
        }
      } catch (error) {
        say(`${(error as Error).message}`)
        return 'continue'
      }
    },
  }
}
