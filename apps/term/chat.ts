// Binds the engine to a terminal surface: runs typed lines through the command registry, prints
// events, saves received files (within the save quota). Shared by the interactive screen and pipe
// mode, which differ only in their surface. Every notice passes through neutralize on its way out.

import type { ChatEvent } from '../../shared/client/events.ts'
import type { ChatSession } from '../../shared/client/session.ts'
import { type CommandContext, parseCommand } from './commands.ts'
import { createDownloadFolder } from './downloads.ts'
import { neutralize, neutralizeLine } from './neutralize.ts'
import { createReceivedFiles } from './received-files.ts'

export interface ChatSurface {
  /** Prints one event or notice; may be several lines. */
  print(text: string): void
  /** A yes/no question; pipe mode answers from its flags without asking. */
  confirm(question: string): Promise<boolean>
}

export interface ChatControllerOptions {
  readonly downloadDir: string
  /** Bytes of received files saved without asking, per session (options.ts). */
  readonly saveQuota: number
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
  // Notices quote names, paths and error messages: none may drive the terminal.
  const say = (text: string) => surface.print(options.notice(neutralize(text)))
  const files = createReceivedFiles(createDownloadFolder(options.downloadDir), options.saveQuota)

  session.on((event) => {
    const text = options.format(event)
    if (text !== undefined) surface.print(text)
    if (event.type === 'file' && !event.own) say(files.receive(event))
  })

  const context: CommandContext = {
    session,
    maxFileBytes: options.maxFileBytes,
    files,
    print: (text) => surface.print(text),
    say,
    confirm: (question) => surface.confirm(neutralizeLine(question)),
  }

  return {
    async run(line) {
      const parsed = parseCommand(line)
      try {
        switch (parsed.kind) {
          case 'message':
            if (parsed.text.trim() !== '') await session.sendText(parsed.text)
            return 'continue'
          case 'command':
            return (await parsed.command.run(context, parsed.argument)) ?? 'continue'
          case 'invalid':
            say(parsed.problem)
            return 'continue'
        }
      } catch (error) {
        say(`${(error as Error).message}`)
        return 'continue'
      }
    },
  }
}
