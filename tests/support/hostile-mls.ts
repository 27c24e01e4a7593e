// What a hostile member can make with the real MLS library and its own keys: commits signed by the
// wrong key or leaf, commits whose encrypted path secrets are garbage yet validly signed, and
// Welcomes into a copy of the group that holds a member nobody added. Tests only.
import {
  type CiphersuiteImpl,
  type ClientState,
  createCommit,
  createGroup,
  encodeMlsMessage,
  type KeyPackage,
  type Proposal,
} from 'ts-mls'
import { cipherSuite, createKeyPackage, readKeyPackage } from '../../shared/client/mls.ts'
import { clientConfig } from '../../shared/mls/suite.ts'
import { decodeBase64url, encodeBase64url } from '../../shared/protocol/base64url.ts'
import type { MlsMember } from './mls-member.ts'

export interface MadeCommit {
  readonly commit: string
  readonly welcome?: string
  readonly state: ClientState
}

/** A PublicMessage commit made from `state` with `suite`, as the client's own code makes one. */
export async function commitWith(
  state: ClientState,
  change: { add?: KeyPackage[]; removeLeaves?: number[] },
  suite?: CiphersuiteImpl,
): Promise<MadeCommit> {
  const proposals: Proposal[] = [
    ...(change.removeLeaves ?? []).map(
      (removed): Proposal => ({ proposalType: 'remove', remove: { removed } }),
    ),
    ...(change.add ?? []).map(
      (keyPackage): Proposal => ({ proposalType: 'add', add: { keyPackage } }),
    ),
  ]
  const result = await createCommit(
    { state, cipherSuite: suite ?? (await cipherSuite()) },
    { extraProposals: proposals, ratchetTreeExtension: true, wireAsPublicMessage: true },
  )
  return {
    commit: encodeBase64url(encodeMlsMessage(result.commit)),
    welcome: result.welcome
      ? encodeBase64url(
          encodeMlsMessage({
            welcome: result.welcome,
            wireformat: 'mls_welcome',
            version: 'mls10',
          }),
        )
      : undefined,
    state: result.newState,
  }
}

export async function keyPackagesOf(texts: readonly string[]): Promise<KeyPackage[]> {
  return Promise.all(
    texts.map(async (text) => (await readKeyPackage(decodeBase64url(text))).keyPackage),
  )
}

/**
 * The suite with HPKE encryption that returns garbage to the recipients `corrupt` picks (by their
 * public key): the commit is signed, tagged and framed over those garbage ciphertexts, so only
 * the members that must decrypt one can tell.
 */
export async function corruptingSuite(
  corrupt: (recipient: Uint8Array) => boolean,
): Promise<CiphersuiteImpl> {
  const honest = await cipherSuite()
  return {
    ...honest,
    hpke: {
      ...honest.hpke,
      async seal(publicKey, plaintext, info, aad) {
        const sealed = await honest.hpke.seal(publicKey, plaintext, info, aad)
        if (!corrupt(await honest.hpke.exportPublicKey(publicKey))) return sealed
        return { ct: crypto.getRandomValues(new Uint8Array(sealed.ct.length)), enc: sealed.enc }
      },
    },
  }
}

/** The encryption key of `name`'s leaf in `state`'s tree. */
export function leafEncryptionKey(state: ClientState, name: string): Uint8Array {
  for (const node of state.ratchetTree) {
    if (node?.nodeType !== 'leaf') continue
    const identity =
      node.leaf.credential.credentialType === 'basic' ? node.leaf.credential.identity : undefined
    if (identity && new TextDecoder().decode(identity) === name) return node.leaf.hpkePublicKey
  }
  throw new Error(`no leaf for ${name}`)
}

/**
 * A Welcome for `newcomer` into a copy of the room's group (same group id) that `committer` made
 * alone, holding besides them a leaf named `ghostName` with a key the committer made.
 */
export async function ghostWelcome(
  committer: MlsMember,
  groupId: Uint8Array,
  newcomerKeyPackage: string,
  ghostName: string,
): Promise<string> {
  const own = await createKeyPackage(committer.keys)
  const copy = await createGroup(
    groupId,
    own.publicPackage,
    own.privatePackage,
    [],
    await cipherSuite(),
    clientConfig,
  )
  const ghostIdentity = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
    'sign',
    'verify',
  ])
  const ghost = await createKeyPackage({
    name: ghostName,
    signKey: new Uint8Array(await crypto.subtle.exportKey('pkcs8', ghostIdentity.privateKey)),
    publicKey: new Uint8Array(await crypto.subtle.exportKey('raw', ghostIdentity.publicKey)),
  })
  const [newcomer] = await keyPackagesOf([newcomerKeyPackage])
  const made = await commitWith(copy, { add: [ghost.publicPackage, newcomer as KeyPackage] })
  if (!made.welcome) throw new Error('the copy made no Welcome')
  return made.welcome
}
