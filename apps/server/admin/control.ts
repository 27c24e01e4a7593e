// What `bun run admin` asks and what it is told, over the control socket or read from the store
// directly: the one description of the room's members both paths print.
import * as v from 'valibot'
import { keyFingerprint } from '../../../shared/crypto/fingerprint.ts'
import { type Member, MemberSchema } from '../../../shared/protocol/frames.ts'
import { createInviteCode, inviteDigest, inviteLink } from '../../../shared/protocol/invites.ts'
import { checkName, nameKey, nameSkeleton } from '../../../shared/protocol/names.ts'
import type { EventSink } from '../observe/events.ts'
import { currentRecord } from '../room/group-records.ts'
import type { Expulsion, MaybePromise, NameBinding, RoomStores } from '../room/ports.ts'

/** How long an invite stays valid unless the admin says otherwise, and at most. */
export const INVITE_DAYS = { fallback: 7, max: 90 } as const

export const ControlRequestSchema = v.variant('command', [
  v.object({ command: v.literal('members') }),
  v.object({
    command: v.picklist(['release', 'ban', 'unban']),
    name: MemberSchema.entries.name,
  }),
  v.object({
    command: v.literal('invite'),
    name: MemberSchema.entries.name,
    days: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(INVITE_DAYS.max)),
  }),
])
export type ControlRequest = v.InferOutput<typeof ControlRequestSchema>

const Time = v.pipe(v.number(), v.safeInteger(), v.minValue(0))

export const AdminMemberSchema = v.object({
  name: v.string(),
  /** The identity key's fingerprint, as the clients show it to be compared by eye. */
  fingerprint: v.string(),
  online: v.boolean(),
  inGroup: v.boolean(),
  boundAt: Time,
  /** When the name was first used in the group; null while it never was. */
  confirmedAt: v.nullable(Time),
})
export type AdminMember = v.InferOutput<typeof AdminMemberSchema>

export const ControlReplySchema = v.union([
  v.object({ ok: v.literal(true), members: v.array(AdminMemberSchema) }),
  /** What a command did, in a sentence for the operator. */
  v.object({ ok: v.literal(true), done: v.string() }),
  v.object({ ok: v.literal(false), error: v.string() }),
])
export type ControlReply = v.InferOutput<typeof ControlReplySchema>

/**
 * Every bound name, with whether its holder is online now and whether it has a leaf in the group,
 * from any of its devices (`devicesOf`: the name's keys, its own first).
 */
export async function describeMembers(
  bindings: readonly NameBinding[],
  online: readonly Member[],
  roster: readonly string[],
  devicesOf: (name: string) => MaybePromise<readonly { readonly identityKey: string }[]>,
): Promise<AdminMember[]> {
  // Online and in the group count only under the name's own keys: a name is never shown online
  // for someone else's key.
  const onlineKeys = new Set(online.map((member) => member.identityKey))
  const inGroup = new Set(roster)
  const sorted = [...bindings].sort((a, b) => (nameKey(a.name) < nameKey(b.name) ? -1 : 1))
  return Promise.all(
    sorted.map(async (binding) => {
      const keys = (await devicesOf(binding.name)).map((device) => device.identityKey)
      if (!keys.includes(binding.identityKey)) keys.push(binding.identityKey)
      return {
        name: binding.name,
        fingerprint: await keyFingerprint(binding.identityKey),
        online: keys.some((key) => onlineKeys.has(key)),
        inGroup: keys.some((key) => inGroup.has(key)),
        boundAt: binding.boundAt,
        confirmedAt: binding.confirmedAt,
      }
    }),
  )
}

/** The members as a table for a person: last seen is the last time the store knows of. */
export function membersTable(members: readonly AdminMember[]): string {
  if (members.length === 0) return 'no names are bound yet'
  const day = (at: number) => new Date(at).toISOString().slice(0, 16).replace('T', ' ')
  const rows = members.map((member) => [
    member.name,
    member.fingerprint,
    member.online ? 'online' : 'offline',
    member.inGroup ? 'yes' : 'no',
    member.online ? 'now' : day(member.confirmedAt ?? member.boundAt),
  ])
  const header = ['name', 'fingerprint', 'status', 'in group', 'last seen']
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  )
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** The running server, when there is one: who is online, the Delivery Service and its event log. */
export interface LiveRoom {
  members(): readonly Member[]
  /** Disconnects the member wherever it is connected and has its leaf removed by the next commit. */
  expel(name: string, reason: Expulsion): MaybePromise<void>
  readonly events: EventSink
}

export interface ControlContext {
  /** The running server's room; absent when the command is done on a stopped server's store. */
  readonly live?: LiveRoom
  /** The page's address as members reach it: invite links start with it. */
  readonly pageUrl: string
  /** The terminal port as members reach it (`--server` for the terminal client). */
  readonly terminalAddress: string
  readonly now: () => number
  readonly randomBytes: (length: number) => Uint8Array
}

const DAY_MS = 86_400_000

/** How a command is done: by the running server (`live`), or on the stopped server's store. */
export function answerControl(
  stores: Pick<RoomStores, 'identities' | 'groups'>,
  context: ControlContext,
): (request: ControlRequest) => Promise<ControlReply> {
  const { identities } = stores
  const { live } = context
  // Stopped, a leaf goes when the leave grace after the next start has passed without its owner.
  const leafGoes = live
    ? 'its leaf leaves the group with the next commit'
    : 'its leaf leaves the group once the leave grace after the next start has passed'
  return async (request): Promise<ControlReply> => {
    switch (request.command) {
      case 'members': {
        const bindings = await identities.bindings()
        const group = await stores.groups.load()
        const online = live?.members() ?? []
        // Read from the state: a record stored before leaves were keyed holds names.
        const roster = group ? currentRecord(group).roster : []
        const members = await describeMembers(bindings, online, roster, identities.devices)
        return { ok: true, members }
      }
      case 'release': {
        if (!(await identities.release(request.name))) {
          return { ok: false, error: `no key holds the name ${request.name}` }
        }
        live?.events({ event: 'admin', action: 'release', name: request.name })
        await live?.expel(request.name, 'released')
        return {
          ok: true,
          done: `released ${request.name}: the next key to use it binds it; ${leafGoes}`,
        }
      }
      case 'ban': {
        if (!(await identities.ban(request.name, context.now()))) {
          return { ok: false, error: `no key holds the name ${request.name}` }
        }
        live?.events({ event: 'admin', action: 'ban', name: request.name })
        // Out at once, and out of the group by the next commit: it reads nothing sent after.
        await live?.expel(request.name, 'banned')
        return { ok: true, done: `banned the key of ${request.name}; ${leafGoes}` }
      }
      case 'unban': {
        if (!(await identities.unban(request.name))) {
          return { ok: false, error: `no banned key held the name ${request.name}` }
        }
        live?.events({ event: 'admin', action: 'unban', name: request.name })
        return { ok: true, done: `unbanned ${request.name}: its key may join again` }
      }
      case 'invite':
        return invite(identities, context, request.name, request.days)
    }
  }
}

/** A one-time invite for a name no key holds yet: the code once, and only its digest kept. */
async function invite(
  identities: RoomStores['identities'],
  context: ControlContext,
  name: string,
  days: number,
): Promise<ControlReply> {
  const check = checkName(name)
  if (!check.ok) return { ok: false, error: check.message ?? `${name} is not a valid name` }
  const skeleton = nameSkeleton(name)
  const holder = (await identities.bindings()).find(
    (binding) => nameSkeleton(binding.name) === skeleton,
  )
  if (holder) {
    const same = nameKey(holder.name) === nameKey(name)
    return {
      ok: false,
      error: same
        ? `a key holds ${holder.name} already; release it first if its owner lost the key`
        : `${name} looks like ${holder.name}, which a key holds; choose another name`,
    }
  }
  const code = createInviteCode(context.randomBytes)
  const expiresAt = context.now() + days * DAY_MS
  await identities.addInvite({ codeDigest: inviteDigest(code), name, expiresAt })
  context.live?.events({ event: 'admin', action: 'invite', name })
  const until = new Date(expiresAt).toISOString().slice(0, 16).replace('T', ' ')
  return {
    ok: true,
    done: [
      `invite for ${name}, for one use, valid until ${until} UTC:`,
      `  page:     ${inviteLink(context.pageUrl, code, name)}`,
      `  terminal: bun run apps/term/client.ts --server ${context.terminalAddress} --name ${name} --invite=${code}`,
    ].join('\n'),
  }
}
