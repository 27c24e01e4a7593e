// What the terminal client tells its user of its own doing (not an engine event): one schema per
// notice, so `--json` prints fields a script can rely on and the screen prints a sentence made
// from the same fields. Pure; every name, path and message is neutralized on the way to text.
import * as v from 'valibot'
import { ChatError, type ChatErrorCode } from '../../shared/client/chat-error.ts'
import { describeSize } from '../../shared/client/files.ts'
import { safetyNumberRows } from '../../shared/crypto/fingerprint.ts'
import { neutralizeLine } from './neutralize.ts'

/** One device of a member in /who: each has its own key, and its own leaf in the group. */
const MemberDeviceSchema = v.object({
  fingerprint: v.string(),
  /** The device this client runs on. */
  thisDevice: v.boolean(),
  online: v.boolean(),
  inGroup: v.boolean(),
})

const MemberSchema = v.object({
  name: v.string(),
  /** The person's key (its first device's), which safety numbers cover. */
  fingerprint: v.string(),
  /** This client itself. */
  you: v.boolean(),
  online: v.boolean(),
  inGroup: v.boolean(),
  verified: v.boolean(),
  keyChanged: v.boolean(),
  /** Only for a person on more than one device: one device says nothing the fields above do not. */
  devices: v.optional(v.array(MemberDeviceSchema)),
})

/** One of your devices in /devices, by the number /unlink takes. */
const DeviceSchema = v.object({
  number: v.number(),
  fingerprint: v.string(),
  linkedAt: v.number(),
  thisDevice: v.boolean(),
  /** The device that first took the name: it cannot be unlinked. */
  first: v.boolean(),
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
  'link_code',
  'link_mismatch',
  'link_invalid',
  'device_refused',
  'unknown_device',
  'this_device',
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
  /** `/devices`, and after `/link` and `/unlink`: your devices, numbered. */
  v.object({ type: v.literal('devices'), ...Name, devices: v.array(DeviceSchema) }),
  /** `/link CODE` approved the device that shows CODE. */
  v.object({ type: v.literal('device-linked'), ...Name, code: v.string() }),
  v.object({ type: v.literal('device-unlinked'), ...Name, fingerprint: v.string() }),
  /** On a device started with --link-device: where to type its code, and for how long. */
  v.object({ type: v.literal('link-hint'), ...Name, code: v.string(), minutes: v.number() }),
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
  if (notice.type === 'who') return notice.members.flatMap(memberLines)
  if (notice.type === 'devices') return deviceLines(notice)
  return [describeNotice(notice)]
}

/** A person on one line; below it each of its devices, when it has more than one. */
function memberLines(member: Member): string[] {
  const head = `${neutralizeLine(member.name)}  ${member.fingerprint}  (${marksOf(member)})`
  if (!member.devices || member.devices.length < 2) return [head]
  return [
    head,
    ...member.devices.map((device) => {
      const marks = [
        device.thisDevice ? 'this device' : '',
        device.online ? 'online' : 'away',
        device.inGroup ? 'in group' : 'not in group',
      ]
      return `   device ${device.fingerprint}  (${marks.filter(Boolean).join(', ')})`
    }),
  ]
}

function deviceLines(notice: Extract<TermNotice, { type: 'devices' }>): string[] {
  const rows = notice.devices.map((device) => {
    const marks = [device.thisDevice ? 'this device' : '', device.first ? 'first' : '']
    const shown = marks.filter(Boolean).join(', ')
    return (
      `  ${String(device.number).padStart(2)}  ${device.fingerprint}  ` +
      `linked ${describeDate(device.linkedAt)}${shown ? `  (${shown})` : ''}`
    )
  })
  const count = notice.devices.length
  return [`${neutralizeLine(notice.name)} has ${count} device${count === 1 ? '' : 's'}:`, ...rows]
}

/** `2025-03-01 14:05` in local time: when a device was linked. */
function describeDate(at: number): string {
  const date = new Date(at)
  const two = (value: number) => String(value).padStart(2, '0')
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}`
  )
}

function describeNotice(notice: Exclude<TermNotice, { type: 'help' | 'who' | 'devices' }>): string {
  switch (notice.type) {
    case 'device-linked':
      return (
        `the device that showed ${neutralizeLine(notice.code)} is linked: it reads and sends ` +
        `as ${neutralizeLine(notice.name)}`
      )
    case 'device-unlinked':
      return (
        `device ${notice.fingerprint} is unlinked: it is put out and refused as ` +
        `${neutralizeLine(notice.name)}, and the next commit removes it from the group`
      )
    case 'link-hint': {
      const name = neutralizeLine(notice.name)
      return (
        `type /link ${neutralizeLine(notice.code)} on a device where you are ${name}; ` +
        `the code works once, for ${notice.minutes} minute${notice.minutes === 1 ? '' : 's'}`
      )
    }
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
  link_code: 'link_code',
  link_mismatch: 'link_mismatch',
}
