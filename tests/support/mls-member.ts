// MLS members for tests, built on the real library through the client's own MLS module: an
// identity key, KeyPackages, founding, commits, Welcomes. Honest by default; a test that plays a
// hostile member takes the pieces and bends them.

import {
  applyCommit,
  type ClientState,
  commitChanges,
  createKeyPackage,
  foundGroup,
  joinFromWelcome,
  membersOf,
  type OwnKeyPackage,
  readKeyPackage,
  type SigningKeys,
} from '../../shared/client/mls.ts'
import { approvalMessage } from '../../shared/crypto/device-links.ts'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../../shared/crypto/identity-key.ts'
import { decodeBase64url, encodeBase64url } from '../../shared/protocol/base64url.ts'
import type { DeviceLink } from '../../shared/protocol/frames.ts'

export interface MlsMember {
  readonly name: string
  readonly identity: IdentityKeyPair
  readonly keys: SigningKeys
  /** The name and key the server binds, as the Delivery Service takes them. */
  readonly binding: { readonly name: string; readonly identityKey: string }
  state: ClientState | undefined
  /** The last KeyPackage made, until a Welcome uses it. */
  own: OwnKeyPackage | undefined
  /** A fresh KeyPackage as the wire carries it (base64url). */
  keyPackage(): Promise<string>
  /** Founds a group alone; returns the GroupInfo as the wire carries it. */
  found(): Promise<string>
  /**
   * Commits these adds (KeyPackages as sent) and removes, not merged until `merge`. A remove is a
   * leaf's identity key, as the wire has it, or a name for every leaf of that name: tests that
   * think in people rather than devices say whom they mean.
   */
  commit(change: { add?: string[]; remove?: string[] }): Promise<PendingCommit>
  join(welcome: string): Promise<void>
  apply(commit: string): Promise<void>
}

export interface PendingCommit {
  readonly commit: string
  readonly welcome?: string
  /** The identity keys of the KeyPackages it adds, and of the leaves it removes: its claims. */
  readonly adds: string[]
  readonly removes: string[]
  /** Takes the commit's state as this member's: the server accepted it. */
  merge(): void
}

/**
 * Another device of `approver`'s person: its own key, approved by the approver's (the approval and
 * the approver's own links go into its credential, as a linked client's do).
 */
export async function createLinkedDevice(approver: MlsMember): Promise<MlsMember> {
  const identity = await createIdentityKeyPair()
  const signature = await signWithIdentity(
    approver.identity,
    approvalMessage(approver.name, identity.publicKeyText),
  )
  const links = [{ by: approver.identity.publicKeyText, signature }, ...(approver.keys.links ?? [])]
  return createMlsMember(approver.name, identity, links)
}

export async function createMlsMember(
  name: string,
  identity?: IdentityKeyPair,
  links: readonly DeviceLink[] = [],
): Promise<MlsMember> {
  const keyPair = identity ?? (await createIdentityKeyPair())
  const keys: SigningKeys = {
    name,
    signKey: keyPair.privateKeyBytes,
    publicKey: keyPair.publicKeyBytes,
    ...(links.length > 0 ? { links } : {}),
  }
  const member: MlsMember = {
    name,
    identity: keyPair,
    keys,
    binding: { name, identityKey: keyPair.publicKeyText },
    state: undefined,
    own: undefined,
    async keyPackage() {
      member.own = await createKeyPackage(keys)
      return encodeBase64url(member.own.encoded)
    },
    async found() {
      const own = member.own ?? (await createKeyPackage(keys))
      const founded = await foundGroup(own)
      member.state = founded.state
      member.own = undefined
      return encodeBase64url(founded.groupInfo)
    },
    async commit(change) {
      const state = requireState(member)
      const peers = await Promise.all(
        (change.add ?? []).map((text) => readKeyPackage(decodeBase64url(text))),
      )
      const remove = change.remove ?? []
      const removed = membersOf(state).filter((leaf) =>
        remove.some((entry) => entry === leaf.identityKey || entry === leaf.name),
      )
      const result = await commitChanges(state, {
        add: peers.map((peer) => peer.keyPackage),
        removeLeaves: removed.map((leaf) => leaf.leafIndex),
      })
      return {
        commit: encodeBase64url(result.commit),
        welcome: result.welcome ? encodeBase64url(result.welcome) : undefined,
        adds: peers.map((peer) => peer.identityKey),
        removes: removed.map((leaf) => leaf.identityKey),
        merge() {
          member.state = result.state
        },
      }
    },
    async join(welcome) {
      if (!member.own) throw new Error(`${name} has no KeyPackage to join with`)
      member.state = await joinFromWelcome(decodeBase64url(welcome), member.own)
      member.own = undefined
    },
    async apply(commit) {
      member.state = (await applyCommit(requireState(member), decodeBase64url(commit))).state
    },
  }
  return member
}

function requireState(member: MlsMember): ClientState {
  if (!member.state) throw new Error(`${member.name} is not in a group`)
  return member.state
}

/** A KeyPackage for `name` under a fresh identity key, for tests that build groups by hand. */
export async function freshKeyPackage(name: string): Promise<OwnKeyPackage> {
  const identity = await createIdentityKeyPair()
  return createKeyPackage({
    name,
    signKey: identity.privateKeyBytes,
    publicKey: identity.publicKeyBytes,
  })
}
