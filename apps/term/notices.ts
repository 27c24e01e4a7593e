// What the terminal client tells its user of its own doing (not an engine event): one schema per
// notice, so `--json` prints fields a script can rely on and the screen prints a sentence made
// from the same fields. Pure; every name, path and message is neutralized on the way to text.
import * as v from 'valibot'
import { ChatError, type ChatErrorCode } from '../../shared/client/chat-error.ts'
import { describeSize } from '../../shared/client/files.ts'
import { safetyNumberRows } from '../../shared/crypto/fingerprint.ts'
import { neutralizeLine } from './neutralize.ts'

const MemberSchema = v.object({
  name: v.string(),
  fingerprint: v.string(),
  /** This client itself. */
  you: v.boolean(),
  online: v.boolean(),
  inGroup: v.boolean(),
  verified: v.boolean(),
  keyChanged: v.boolean(),
})

/** Why a typed line or a file was refused; engine codes pass through, anything else is `failed`. */
export const REFUSAL_CODES = [
  'no_such_file',
  'not_a_file',
  'cannot_read',
  'not_text',
  'too_large',
  'unknown_command',
  'missing_argument',
  'not_held',
  'bad_number',
  'unknown_member',
  'not_connected',
  'not_in_group',
  'key_change_unaccepted',
  'empty',
  'too_long',
  'send_failed',
  'refused',
  'failed',
] as const
export type RefusalCode = (typeof REFUSAL_CODES)[number]

const Name = { name: v.string() }
const HeldFile = { file: v.number(), name: v.string() }

export const TermNoticeSchema = v.variant('type', [
  v.object({ type: v.literal('who'), members: v.array(MemberSchema) }),
  v.object({ type: v.literal('room-code'), roomCode: v.nullable(v.string()) }),
  v.object({ type: v.literal('safety-number'), ...Name, safetyNumber: v.string() }),
  /** `/verify` of yourself: nothing to compare, here is your own key. */
  v.object({ type: v.literal('self'), ...Name, fingerprint: v.string() }),
  v.object({ type: v.literal('verified'), ...Name }),
  v.object({ type: v.literal('not-verified'), ...Name }),
  v.object({ type: v.literal('key-accepted'), ...Name }),
  /** `/clear-history`: how many messages this device forgot. */
  v.object({ type: v.literal('history-cleared'), forgotten: v.number() }),
  v.object({ type: v.literal('saved'), ...HeldFile, path: v.string() }),
  v.object({
    type: v.literal('held'),
    ...HeldFile,
    usedBytes: v.number(),
    quotaBytes: v.number(),
  }),
  v.object({ type: v.literal('save-failed'), ...HeldFile, message: v.string() }),
  v.object({
    type: v.literal('refused'),
    /** The command's name, or `message` for a line sent as a message. */
    command: v.string(),
    code: v.picklist(REFUSAL_CODES),
    message: v.string(),
    path: v.optional(v.string()),
  }),
  v.object({
    type: v.literal('help'),
    commands: v.array(v.object({ usage: v.string(), help: v.string() })),
  }),
])
export type TermNotice = v.InferOutput<typeof TermNoticeSchema>
export type Member = v.InferOutput<typeof MemberSchema>

/** A typed line or a file the client will not send or do: why, as a code and in words. */
export class Refusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
    /** The file it is about, as the user typed it. */
    readonly path?: string,
  ) {
    super(message)
  }
}

function marksOf(member: Member): string {
  const marks = [
    member.you ? 'you' : '',
    member.online ? 'online' : 'away',
    member.inGroup ? 'in group' : 'not in group',
    // Verifying yourself means nothing: your own key is the one this client holds.
    member.you ? '' : member.verified ? 'verified ✓' : 'not verified',
    member.keyChanged ? 'KEY CHANGED' : '',
  ]
  return marks.filter(Boolean).join(', ')
}

/**
 * The notice as text: `-- ` marks each line as the client's own, in dim when colour is on; the
 * /help list is printed as it is. Every name, path and message is neutralized here.
 */
export function renderNotice(notice: TermNotice, options: { readonly color: boolean }): string {
  if (notice.type === 'help') return describeHelp(notice.commands)
  return noticeLines(notice)
    .map((line) => (options.color ? `\x1b[2m-- ${line}\x1b[0m` : `-- ${line}`))
    .join('\n')
}

/** The lines, each a notice of its own; one may go on over further, indented lines. */
function noticeLines(notice: Exclude<TermNotice, { type: 'help' }>): string[] {
  if (notice.type === 'who') {
    return notice.members.map(
      (member) => `${neutralizeLine(member.name)}  ${member.fingerprint}  (${marksOf(member)})`,
    )
  }
  return [describeNotice(notice)]
}

function describeNotice(notice: Exclude<TermNotice, { type: 'help' | 'who' }>): string {
  switch (notice.type) {
    case 'room-code':
      return `room code: ${notice.roomCode ?? 'none yet (not in the group)'}`
    case 'safety-number': {
      const name = neutralizeLine(notice.name)
      // The rows the page shows too, so two people on different clients read the same rows aloud.
      const rows = safetyNumberRows(notice.safetyNumber).map((row) => `   ${row.join(' ')}\n`)
      return (
        `safety number with ${name}:\n${rows.join('')}` +
        `   compare it with ${name} over another channel`
      )
    }
    case 'self':
      return (
        `${neutralizeLine(notice.name)} is you; your key's fingerprint is ${notice.fingerprint} ` +
        '(the others see it in /who)'
      )
    case 'verified':
      return `${neutralizeLine(notice.name)} is verified`
    case 'not-verified': {
      const name = neutralizeLine(notice.name)
      return `${name} is not marked verified; /verify ${name} again once you have compared`
    }
    case 'key-accepted':
      return `the new key of ${neutralizeLine(notice.name)} is accepted; sending resumes`
    case 'history-cleared':
      return `history on this device cleared: ${notice.forgotten} message(s) forgotten`
    case 'saved':
      return `saved to ${neutralizeLine(notice.path)}`
    case 'held':
      return (
        `${neutralizeLine(notice.name)} not saved: over this session's save quota ` +
        `(${describeSize(notice.usedBytes)} of ${describeSize(notice.quotaBytes)} used); ` +
        `/save ${notice.file} saves it`
      )
    case 'save-failed':
      return (
        `could not save ${neutralizeLine(notice.name)}: ${neutralizeLine(notice.message)}; ` +
        `/save ${notice.file} tries again`
      )
    case 'refused':
      return neutralizeLine(notice.message)
  }
}

/** Five spaces after the longest usage, as the hand-written list had. */
export function describeHelp(rows: readonly { usage: string; help: string }[]): string {
  const column = Math.max(...rows.map((row) => row.usage.length)) + 5
  return rows.map((row) => `${row.usage.padEnd(column)}${row.help}`).join('\n')
}

/** The refused notice for what a command or a message threw: a Refusal, an engine error, else. */
export function refusalOf(command: string, error: unknown): TermNotice {
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof Refusal) {
    return { type: 'refused', command, code: error.code, message, ...pathOf(error) }
  }
  const engineCode = error instanceof ChatError ? ENGINE_CODES[error.code] : undefined
  return { type: 'refused', command, code: engineCode ?? 'failed', message }
}

function pathOf(refusal: Refusal): { path?: string } {
  return refusal.path === undefined ? {} : { path: refusal.path }
}

/** The engine's codes as the terminal reports them; one it does not know is `failed`. */
const ENGINE_CODES: Partial<Record<ChatErrorCode, RefusalCode>> = {
  not_connected: 'not_connected',
  not_in_group: 'not_in_group',
  key_change_unaccepted: 'key_change_unaccepted',
  empty: 'empty',
  too_long: 'too_long',
  bad_file: 'not_text',
  file_too_large: 'too_large',
  unknown_member: 'unknown_member',
  send_failed: 'send_failed',
  refused: 'refused',
}
