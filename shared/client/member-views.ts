// What the views show of the room's members and of each change of the group: names with their
// keys' fingerprints, who is online, in the group, verified or changed. Reads; sends nothing.
import { keyFingerprint, roomCode } from '../crypto/fingerprint.ts'
import type { Member } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { ChatEvent } from './events.ts'
import { type ClientState, epochAuthenticator, epochOf, membersOf } from './mls.ts'
import type { TrustBook } from './trust-book.ts'

export interface MemberView {
  readonly name: string
  readonly identityKey: string
  readonly fingerprint: string
  /** Connected to the server now. */
  readonly online: boolean
  /** Holds a leaf in the MLS group: can read what is sent. */
  readonly inGroup: boolean
  readonly verified: boolean
  readonly keyChanged: boolean
}

/** Everyone in the group or online, each once; this client always counts as verified. */
export async function memberViews(
  self: string,
  group: ClientState | undefined,
  online: ReadonlyMap<string, Member>,
  trust: TrustBook,
): Promise<MemberView[]> {
  const byName = new Map<string, Member & { inGroup: boolean }>()
  for (const member of group ? membersOf(group) : []) {
    byName.set(nameKey(member.name), { ...member, inGroup: true })
  }
  for (const member of online.values()) {
    if (!byName.has(nameKey(member.name)))
      byName.set(nameKey(member.name), { ...member, inGroup: false })
  }
  const changed = new Set(trust.pendingChanges().map((change) => nameKey(change.name)))
  return Promise.all(
    [...byName.values()].map(async (member) => {
      const key = nameKey(member.name)
      const verified = (await trust.get(member.name))?.verified ?? false
      return {
        name: member.name,
        identityKey: member.identityKey,
        fingerprint: await keyFingerprint(member.identityKey),
        online: online.has(key),
        inGroup: member.inGroup,
        verified: member.name === self || (verified && !changed.has(key)),
        keyChanged: changed.has(key),
      }
    }),
  )
}

/** The event that tells the views who can read what is sent from now on. */
export async function groupChangedEvent(
  group: ClientState,
  added: string[],
  removed: string[],
): Promise<Extract<ChatEvent, { type: 'membership' }>> {
  return {
    type: 'membership',
    epoch: epochOf(group),
    members: membersOf(group).map((member) => member.name),
    added,
    removed,
    roomCode: await roomCode(epochAuthenticator(group)),
  }
}
