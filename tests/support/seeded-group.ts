// A room whose MLS group already holds some names: for tests and the benchmark whose protocol-level
// clients send `app` frames (which the server takes only from group members) without running MLS
// themselves. The group is real, founded by a member that never connects; the names are added to
// its roster as the server keeps it, the way accepted commits would have put them there.
import { groupRecord } from '../../apps/server/room/group-records.ts'
import type { GroupRecord } from '../../apps/server/room/ports.ts'
import { type IdentityKeyPair, identityFromKeys } from '../../shared/crypto/identity-key.ts'
import { groupFromGroupInfo } from '../../shared/mls/public-group.ts'
import { decodeBase64url, encodeBase64url } from '../../shared/protocol/base64url.ts'
import { createMlsMember } from './mls-member.ts'

/**
 * The key each seeded name is in the roster under: the roster lists leaves by identity key, so a
 * seeded name's client must join with this one (harness.ts `join` does, unless given another).
 */
const seededIdentities = new Map<string, IdentityKeyPair>()

export function seededIdentity(name: string): IdentityKeyPair | undefined {
  return seededIdentities.get(name)
}

/** Ed25519's PKCS#8 wrapping of a 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Uint8Array.fromHex('302e020100300506032b657004220420')

/**
 * The one identity a seeded name has, derived from the name: a member in a child process (a
 * fixture) joins with the same key the roster holds without being told it.
 */
export async function seededIdentityOf(name: string): Promise<IdentityKeyPair> {
  const seed = new Uint8Array(
    await crypto.subtle.digest(
      'SHA-256',
      new TextEncoder().encode(`chatbox-seeded-member\n${name}`),
    ),
  )
  const pkcs8 = new Uint8Array([...PKCS8_ED25519_PREFIX, ...seed])
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, 'Ed25519', true, ['sign'])
  const { x } = await crypto.subtle.exportKey('jwk', privateKey)
  const publicKey = await crypto.subtle.importKey(
    'raw',
    decodeBase64url(x as string),
    'Ed25519',
    true,
    ['verify'],
  )
  return identityFromKeys(privateKey, publicKey)
}

export async function seededGroupRecord(names: readonly string[]): Promise<GroupRecord> {
  for (const name of names) seededIdentities.set(name, await seededIdentityOf(name))
  const founder = await createMlsMember('seedfounder')
  const founded = await groupFromGroupInfo(decodeBase64url(await founder.found()), founder.binding)
  if (!founded.ok) throw new Error(`could not seed a group: ${founded.message}`)
  const view = founded.value
  const record = groupRecord(encodeBase64url(view.context.groupId), 0, view)
  const keys = names.map((name) => seededIdentity(name)?.publicKeyText as string)
  return { ...record, roster: [...record.roster, ...keys] }
}
