// Whom a leaf belongs to: the person key its device approvals lead to, held against the key this
// user trusts for the name. A device approved by a trusted device is that person; a key that shows
// up for the name any other way is a key change; a device under this client's own name must be
// one of its own person's. No I/O beyond the trust book.
import { personKeyOf } from '../crypto/device-links.ts'
import type { DeviceLink } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { KeyObservation, TrustBook } from './trust-book.ts'

/** This client as its checks need it: its name, its key, its person's key (its own for a first device). */
export interface Self {
  readonly name: string
  readonly identityKey: string
  readonly personKey: string
}

/** A leaf, or a KeyPackage's leaf: a device's name, key and approvals. */
export interface Device {
  readonly name: string
  readonly identityKey: string
  readonly links?: readonly DeviceLink[]
}

/**
 * 'forged': its approvals do not verify. 'impostor': it carries this client's name but leads to
 * another person's key: a device none of this user's devices approved.
 */
export type PersonObservation = KeyObservation | 'forged' | 'impostor'

/**
 * What the trust book makes of the device's person, recording a first sighting when `record` is
 * set (`observe`) or only looking (`check`).
 */
export async function observePerson(
  trust: TrustBook,
  self: Self,
  device: Device,
  record: boolean,
): Promise<PersonObservation> {
  const personKey = await personKeyOf(device.name, device.identityKey, device.links ?? [])
  if (personKey === undefined) return 'forged'
  if (nameKey(device.name) === nameKey(self.name)) {
    return personKey === self.personKey ? 'known' : 'impostor'
  }
  return record ? trust.observe(device.name, personKey) : trust.check(device.name, personKey)
}

/** What a device refused for its person is, in words, or undefined for one that passes. */
export function personProblem(observation: PersonObservation, device: Device): string | undefined {
  switch (observation) {
    case 'forged':
      return `the device approvals of ${device.name}'s key do not verify`
    case 'impostor':
      return `a device under your own name that none of your devices approved`
    default:
      return undefined
  }
}
