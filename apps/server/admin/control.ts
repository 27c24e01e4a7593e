// What `bun run admin` asks and what it is told, over the control socket or read from the store
// directly: the one description of the room's members both paths print.
import * as v from 'valibot'
import { keyFingerprint } from '../../../shared/crypto/fingerprint.ts'
import { type Member, MemberSchema } from '../../../shared/protocol/frames.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import type { EventSink } from '../observe/events.ts'
import type { NameBinding, RoomStores } from '../room/ports.ts'

export const ControlRequestSchema = v.variant('command', [
  v.object({ command: v.literal('members') }),
  v.object({
    command: v.picklist(['release', 'ban', 'unban']),
    name: MemberSchema.entries.name,
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

/** Every bound name, with whether its holder is online now and whether its leaf is in the group. */
export async function describeMembers(
  bindings: readonly NameBinding[],
  online: readonly Member[],
  roster: readonly string[],
): Promise<AdminMember[]> {
  // Online counts only under the bound key: a name is never shown online for someone else's key.
  const onlineKeys = new Map(online.map((member) => [nameKey(member.name), member.identityKey]))
  const inGroup = new Set(roster.map(nameKey))
  const sorted = [...bindings].sort((a, b) => (nameKey(a.name) < nameKey(b.name) ? -1 : 1))
  return Promise.all(
    sorted.map(async (binding) => ({
      name: binding.name,
      fingerprint: await keyFingerprint(binding.identityKey),
      online: onlineKeys.get(nameKey(binding.name)) === binding.identityKey,
      inGroup: inGroup.has(nameKey(binding.name)),
      boundAt: binding.boundAt,
      confirmedAt: binding.confirmedAt,
    })),
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

/** The running server, when there is one: who is online, its Delivery Service and its event log. */
export interface LiveRoom {
  members(): readonly Member[]
  removeFromGroup(name: string): boolean
  banish(name: string): void
  readonly events: EventSink
}

/** How a command is done: by the running server (`live`), or on the stopped server's store. */
export function answerControl(
  stores: Pick<RoomStores, 'identities' | 'groups'>,
  live?: LiveRoom,
): (request: ControlRequest) => Promise<ControlReply> {
  const { identities } = stores
  return async (request): Promise<ControlReply> => {
    switch (request.command) {
      case 'members': {
        if (!identities.bindings) return { ok: false, error: 'this store cannot list its names' }
        const bindings = await identities.bindings()
        const group = await stores.groups.load()
        const online = live?.members() ?? []
        return { ok: true, members: await describeMembers(bindings, online, group?.roster ?? []) }
      }
      case 'release': {
        if (!identities.release) return { ok: false, error: 'this store cannot free a name' }
        if (!(await identities.release(request.name))) {
          return { ok: false, error: `no key holds the name ${request.name}` }
        }
        live?.events({ event: 'admin', action: 'release', name: request.name })
        // Stopped, the old leaf goes when the name's next holder asks to join (a rejoin's removal).
        const removing = live?.removeFromGroup(request.name) ?? false
        const leaf = removing ? '; its leaf leaves the group with the next commit' : ''
        return {
          ok: true,
          done: `released ${request.name}: the next key to use it binds it${leaf}`,
        }
      }
      case 'ban': {
        if (!identities.ban) return { ok: false, error: 'this store cannot ban' }
        if (!(await identities.ban(request.name, Date.now()))) {
          return { ok: false, error: `no key holds the name ${request.name}` }
        }
        live?.events({ event: 'admin', action: 'ban', name: request.name })
        // Out at once, and out of the group by the next commit: it reads nothing sent after.
        live?.banish(request.name)
        const removing = live?.removeFromGroup(request.name) ?? false
        const leaf = removing
          ? 'its leaf leaves the group with the next commit'
          : 'its leaf leaves the group once the leave grace after the next start has passed'
        return { ok: true, done: `banned the key of ${request.name}; ${leaf}` }
      }
      case 'unban': {
        if (!identities.unban) return { ok: false, error: 'this store cannot ban' }
        if (!(await identities.unban(request.name))) {
          return { ok: false, error: `no banned key held the name ${request.name}` }
        }
        live?.events({ event: 'admin', action: 'unban', name: request.name })
        return { ok: true, done: `unbanned ${request.name}: its key may join again` }
      }
    }
  }
}
