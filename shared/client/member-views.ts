// What the views show of the room's members and of each change of the group: names with their
// keys' fingerprints, who is online, in the group, verified or changed. Reads; sends nothing.
import { personKeyOf } from '../crypto/device-links.ts'
import { keyFingerprint, roomCode } from '../crypto/fingerprint.ts'
import type { Member } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { ChatEvent } from './events.ts'
import { type ClientState, epochAuthenticator, epochOf, membersOf } from './mls.ts'
import type { Self } from './person-keys.ts'
import type { TrustBook } from './trust-book.ts'

/** One device of a member: each is its own leaf with its own key. */
export interface DeviceSummary {
  readonly identityKey: string
  readonly fingerprint: string
  readonly online: boolean
  readonly inGroup: boolean
}

/** One person: a name, with the key its devices lead to and each device. */
export interface MemberView {
  readonly name: string
  /** The person's key: the one trusted for the name, which safety numbers cover. */
  readonly identityKey: string
  readonly fingerprint: string
  /** Connected to the server now, from any device. */
  readonly online: boolean
  /** Holds a leaf in the MLS group, from any device: can read what is sent. */
  readonly inGroup: boolean
  readonly verified: boolean
  readonly keyChanged: boolean
  /** Its devices known here: in the group or online. */
  readonly devices: readonly DeviceSummary[]
}

interface Seen {
  readonly name: string
  readonly personKey: string
  readonly devices: Map<string, { online: boolean; inGroup: boolean }>
}

/** Everyone in the group or online, each person once; this client always counts as verified. */
export async function memberViews(
  self: Self,
  group: ClientState | undefined,
  online: ReadonlyMap<string, Member>,
  trust: TrustBook,
): Promise<MemberView[]> {
  const people = new Map<string, Seen>()
  function person(name: string, personKey: string): Seen {
    const key = nameKey(name)
    let seen = people.get(key)
    if (!seen) {
      seen = { name, personKey, devices: new Map() }
      people.set(key, seen)
    }
    return seen
  }
  for (const leaf of group ? membersOf(group) : []) {
    const personKey =
      (await personKeyOf(leaf.name, leaf.identityKey, leaf.links ?? [])) ?? leaf.identityKey
    const device = { online: online.has(leaf.identityKey), inGroup: true }
    person(leaf.name, personKey).devices.set(leaf.identityKey, device)
  }
  for (const member of online.values()) {
    // Online but not in the group yet: its approvals are not known here, only its key.
    const seen = person(member.name, member.identityKey)
    if (!seen.devices.has(member.identityKey)) {
      seen.devices.set(member.identityKey, { online: true, inGroup: false })
    }
  }
  const changed = new Set(trust.pendingChanges().map((change) => nameKey(change.name)))
  return Promise.all(
    [...people.values()].map(async (seen) => {
      const key = nameKey(seen.name)
      const isSelf = key === nameKey(self.name)
      const personKey = isSelf ? self.personKey : seen.personKey
      const verified = (await trust.get(seen.name))?.verified ?? false
      const devices = await Promise.all(
        [...seen.devices].map(async ([identityKey, device]) => ({
          identityKey,
          fingerprint: await keyFingerprint(identityKey),
          ...device,
        })),
      )
      return {
        name: seen.name,
        identityKey: personKey,
        fingerprint: await keyFingerprint(personKey),
        online: devices.some((device) => device.online),
        inGroup: devices.some((device) => device.inGroup),
        verified: isSelf || (verified && !changed.has(key)),
        keyChanged: changed.has(key),
        devices,
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
