// Binds the engine to a terminal surface: runs typed lines through the command registry, prints
// events, saves received files (within the save quota). Shared by the interactive screen and pipe
// mode, which differ only in their surface. Every notice is neutralized where it becomes text (notices.ts).

import type { ChatEvent } from '../../shared/client/events.ts'
import { ChatError, type ChatSession } from '../../shared/client/session.ts'
import { mentionsYou } from './bell.ts'
import { type CommandContext, parseCommand, type QuestionPurpose } from './commands.ts'
import { createDeliveryMarks } from './delivery-marks.ts'
import { createShownDevices } from './device-commands.ts'
import { createDownloadFolder } from './downloads.ts'
import { neutralizeLine } from './neutralize.ts'
import { refusalOf, type TermNotice } from './notices.ts'
import { createReceivedFiles } from './received-files.ts'

export interface ChatSurface {
  /** Prints one event or notice; may be several lines. */
  print(text: string): void
  /** A yes/no question; pipe mode answers from its flags without asking. */
  confirm(question: string, purpose?: QuestionPurpose): Promise<boolean>
}

export interface ChatControllerOptions {
  readonly downloadDir: string
  /** Bytes of received files saved without asking, per session (options.ts). */
  readonly saveQuota: number
  readonly format: (event: ChatEvent) => string | undefined
  /** How a notice from the client itself (not an event) is shown. */
  readonly notice: (text: string) => string
  /** How a notice with fields (notices.ts) is shown: a sentence, or JSON with --json. */
  readonly renderNotice: (notice: TermNotice) => string
  /** Rings the terminal's bell, for a message that names the user; none when off (options.ts). */
  readonly bell?: () => void
  /** With --json: own messages' delivery states as JSON lines, by this serializer. */
  readonly json?: (value: unknown) => string
  /** The chat screen's wait before a slow own message is shown on its way (delivery-marks.ts). */
  readonly graceMs?: number
}

export interface ChatController {
  /**
   * Runs one typed line; resolves 'quit' once the user has left, 'refused' when the line was
   * refused (and the user told why), for pipe mode's exit status.
   */
  run(line: string): Promise<'continue' | 'quit' | 'refused'>
}

export function createChatController(
  session: ChatSession,
  surface: ChatSurface,
  options: ChatControllerOptions,
): ChatController {
  // Notices quote names, paths and error messages: none may drive the terminal.
  const notify = (notice: TermNotice) => surface.print(options.renderNotice(notice))
  const files = createReceivedFiles(createDownloadFolder(options.downloadDir), options.saveQuota)
  const print = (text: string) => surface.print(text)
  const { format, notice, json, graceMs } = options
  const deliveries = createDeliveryMarks({ session, print, format, notice, json, graceMs })

  session.on((event) => {
    if (options.bell && mentionsYou(event, session.name)) options.bell()
    if (deliveries.take(event)) return
    const text = options.format(event)
    if (text !== undefined) surface.print(text)
    // Saved unless this device sent it: a file from another device of yours is new here.
    if (event.type === 'file' && (!event.own || event.otherDevice)) notify(files.receive(event))
  })

  const context: CommandContext = {
    session,
    // The server's own limit once admitted: a larger one than the default lets larger files go.
    get maxFileBytes() {
      return session.maxFileBytes()
    },
    deliveries,
    files,
    shownDevices: createShownDevices(),
    print: (text) => surface.print(text),
    notify,
    confirm: (question, purpose) => surface.confirm(neutralizeLine(question), purpose),
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
          case 'invalid': {
            const { code, problem: message } = parsed
            notify({ type: 'refused', command: line.slice(1).split(' ')[0] ?? '', code, message })
            return 'refused'
          }
        }
      } catch (error) {
        // Shown as pending, then failed, with the way to retry: said once already.
        if (error instanceof ChatError && error.code === 'send_failed') return 'refused'
        notify(refusalOf(parsed.kind === 'command' ? parsed.command.name : 'message', error))
        return 'refused'
      }
    },
  }
}
