// One member's MLS operations over ts-mls 1.6.4, ciphersuite 1 (X25519, AES-128-GCM, SHA-256,
// Ed25519): key packages, founding, commits, Welcomes, messages with their authenticated sender.
// Bytes in, bytes out: it knows nothing of the room's protocol, sockets or storage.
import {
  type ClientState,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeGroupState,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type IncomingMessageCallback,
  joinGroup,
  type KeyPackage,
  type PrivateKeyPackage,
  type Proposal,
  processPrivateMessage,
  processPublicMessage,
} from 'ts-mls'
import { createGroupInfoWithRatchetTree } from 'ts-mls/createCommit.js'
import { decryptSenderData } from 'ts-mls/privateMessage.js'
import { credentialIdentity, type DeviceLink } from '../crypto/device-links.ts'
import { leafOf } from '../mls/checking.ts'
import { type Leaf, leavesOf } from '../mls/public-group.ts'
import { CIPHERSUITE_NAME, cipherSuite, clientConfig, credentialName } from '../mls/suite.ts'
import { encodeBase64url } from '../protocol/base64url.ts'

export { CIPHERSUITE_NAME, cipherSuite }

/** The identity key as ts-mls signs with it: PKCS#8 private key and raw public key. */
export interface SigningKeys {
  readonly name: string
  readonly signKey: Uint8Array
  readonly publicKey: Uint8Array
  /** A linked device's approvals (shared/crypto/device-links.ts); none for a first device. */
  readonly links?: readonly DeviceLink[]
}

export interface OwnKeyPackage {
  readonly publicPackage: KeyPackage
  readonly privatePackage: PrivateKeyPackage
  /** The MLS message bytes to hand to the committer. */
  readonly encoded: Uint8Array
}

/** A leaf: its index, the name its credential carries, its base64url Ed25519 key. */
export type GroupMember = Leaf

export async function createKeyPackage(keys: SigningKeys): Promise<OwnKeyPackage> {
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    { credentialType: 'basic', identity: credentialIdentity(keys.name, keys.links ?? []) },
    defaultCapabilities(),
    defaultLifetime,
    [],
    { signKey: keys.signKey, publicKey: keys.publicKey },
    await cipherSuite(),
  )
  const encoded = encodeMlsMessage({
    keyPackage: publicPackage,
    wireformat: 'mls_key_package',
    version: 'mls10',
  })
  return { publicPackage, privatePackage, encoded }
}

export interface FoundedGroup {
  readonly state: ClientState
  /** The new group's GroupInfo with its tree, signed by the founder: what the server checks. */
  readonly groupInfo: Uint8Array
}

export async function foundGroup(own: OwnKeyPackage): Promise<FoundedGroup> {
  const groupId = crypto.getRandomValues(new Uint8Array(16))
  const cs = await cipherSuite()
  const state = await createGroup(
    groupId,
    own.publicPackage,
    own.privatePackage,
    [],
    cs,
    clientConfig,
  )
  const info = await createGroupInfoWithRatchetTree(
    state.groupContext,
    state.confirmationTag,
    state,
    state.ratchetTree,
    [],
    cs,
  )
  const groupInfo = encodeMlsMessage({
    groupInfo: info,
    wireformat: 'mls_group_info',
    version: 'mls10',
  })
  return { state, groupInfo }
}

/** A KeyPackage someone else sent, with the name, key and device approvals its credential carries. */
export interface PeerKeyPackage {
  readonly keyPackage: KeyPackage
  readonly name: string
  readonly identityKey: string
  readonly links?: readonly DeviceLink[]
}

export async function readKeyPackage(bytes: Uint8Array): Promise<PeerKeyPackage> {
  const decoded = decodeMlsMessage(bytes, 0)?.[0]
  if (decoded?.wireformat !== 'mls_key_package') throw new Error('not an MLS KeyPackage')
  const { keyPackage } = decoded
  const leaf = leafOf(keyPackage.leafNode, 0)
  if (!leaf) throw new Error('the KeyPackage does not carry a valid name')
  const { name, identityKey, links } = leaf
  return { keyPackage, name, identityKey, ...(links ? { links } : {}) }
}

export function groupIdOf(state: ClientState): string {
  return encodeBase64url(state.groupContext.groupId)
}

export function epochOf(state: ClientState): number {
  return Number(state.groupContext.epoch)
}

/** Past epochs whose keys a member keeps: a message made that many epochs ago is still read. */
export const RETAINED_EPOCHS = clientConfig.keyRetentionConfig.retainKeysForEpochs

export function isRemoved(state: ClientState): boolean {
  return state.groupActiveState.kind === 'removedFromGroup'
}

export function membersOf(state: ClientState): GroupMember[] {
  return leavesOf(state.ratchetTree)
}

export function ownLeafIndex(state: ClientState): number {
  return Number(state.privatePath.leafIndex)
}

export interface CommitResult {
  readonly state: ClientState
  readonly commit: Uint8Array
  readonly welcome?: Uint8Array
}

/** One commit that removes these leaves and adds these members; the Welcome carries the tree. */
export async function commitChanges(
  state: ClientState,
  change: { add: KeyPackage[]; removeLeaves: number[] },
): Promise<CommitResult> {
  const proposals: Proposal[] = [
    ...change.removeLeaves.map(
      (removed): Proposal => ({ proposalType: 'remove', remove: { removed } }),
    ),
    ...change.add.map((keyPackage): Proposal => ({ proposalType: 'add', add: { keyPackage } })),
  ]
  const result = await createCommit(
    { state, cipherSuite: await cipherSuite() },
    // As a PublicMessage, so the server can check it before anyone applies it (RFC 9420 §6.2).
    { extraProposals: proposals, ratchetTreeExtension: true, wireAsPublicMessage: true },
  )
  return {
    state: result.newState,
    commit: encodeMlsMessage(result.commit),
    welcome: result.welcome
      ? encodeMlsMessage({ welcome: result.welcome, wireformat: 'mls_welcome', version: 'mls10' })
      : undefined,
  }
}

/** What a commit did, read from the commit itself rather than from anyone's claim. */
export interface CommitEffect {
  readonly state: ClientState
  /** The leaves it added, as they are in the new tree. */
  readonly added: GroupMember[]
  /** The leaves it removed, as they were before it: a name may keep other leaves (devices). */
  readonly removed: GroupMember[]
}

/** Commits here are PublicMessages, which the server checked; a private one did not pass it. */
export async function applyCommit(state: ClientState, bytes: Uint8Array): Promise<CommitEffect> {
  const message = decodeMlsMessage(bytes, 0)?.[0]
  if (message?.wireformat !== 'mls_public_message') throw new Error('not an MLS commit')
  const before = new Map(membersOf(state).map((member) => [member.leafIndex, member]))
  const addedKeys: string[] = []
  const removed: GroupMember[] = []
  const observe: IncomingMessageCallback = (incoming) => {
    if (incoming.kind !== 'commit') return 'reject'
    for (const { proposal } of incoming.proposals) {
      if (proposal.proposalType === 'add') {
        addedKeys.push(encodeBase64url(proposal.add.keyPackage.leafNode.signaturePublicKey))
      } else if (proposal.proposalType === 'remove') {
        const index = proposal.remove.removed
        removed.push(before.get(index) ?? { leafIndex: index, name: '?', identityKey: '?' })
      }
    }
    return 'accept'
  }
  const result = await processPublicMessage(
    state,
    message.publicMessage,
    emptyPskIndex,
    await cipherSuite(),
    observe,
  )
  if (result.actionTaken !== 'accept') throw new Error('the commit was refused')
  const leaves = membersOf(result.newState)
  const added = addedKeys.map(
    (key) =>
      leaves.find((leaf) => leaf.identityKey === key) ?? {
        leafIndex: -1,
        name: '?',
        identityKey: key,
      },
  )
  return { state: result.newState, added, removed }
}

export async function joinFromWelcome(bytes: Uint8Array, own: OwnKeyPackage): Promise<ClientState> {
  const message = decodeMlsMessage(bytes, 0)?.[0]
  if (message?.wireformat !== 'mls_welcome') throw new Error('not an MLS Welcome')
  return joinGroup(
    message.welcome,
    own.publicPackage,
    own.privatePackage,
    emptyPskIndex,
    await cipherSuite(),
    undefined,
    undefined,
    clientConfig,
  )
}

export async function encryptMessage(
  state: ClientState,
  plaintext: Uint8Array,
): Promise<{ state: ClientState; ciphertext: Uint8Array }> {
  const result = await createApplicationMessage(state, plaintext, await cipherSuite())
  const ciphertext = encodeMlsMessage({
    privateMessage: result.privateMessage,
    wireformat: 'mls_private_message',
    version: 'mls10',
  })
  return { state: result.newState, ciphertext }
}

export interface Decrypted {
  readonly state: ClientState
  readonly plaintext: Uint8Array
  /** The member MLS says wrote it: the leaf whose key signed the message. */
  readonly sender: GroupMember
}

/**
 * ts-mls returns an application message without its sender, so the sender's leaf is read from the
 * sender data first (for the message's own epoch); ts-mls then verifies the signature against that
 * very leaf's key while decrypting, which is what makes the sender authentic.
 */
export async function decryptMessage(state: ClientState, bytes: Uint8Array): Promise<Decrypted> {
  const message = decodeMlsMessage(bytes, 0)?.[0]
  if (message?.wireformat !== 'mls_private_message') throw new Error('not an MLS message')
  const { privateMessage } = message
  if (privateMessage.contentType !== 'application') throw new Error('not an application message')
  const cs = await cipherSuite()
  const epochData =
    privateMessage.epoch === state.groupContext.epoch
      ? { senderDataSecret: state.keySchedule.senderDataSecret, ratchetTree: state.ratchetTree }
      : state.historicalReceiverData.get(privateMessage.epoch)
  if (!epochData) throw new Error(`no keys for epoch ${privateMessage.epoch}`)
  const senderData = await decryptSenderData(privateMessage, epochData.senderDataSecret, cs)
  if (!senderData) throw new Error('unreadable sender data')
  const leafIndex = Number(senderData.leafIndex)
  const node = epochData.ratchetTree[leafIndex * 2]
  if (node?.nodeType !== 'leaf') throw new Error('the sender is not a member')
  const name = credentialName(node.leaf.credential)
  if (!name) throw new Error('the sender has no valid name')
  const result = await processPrivateMessage(state, privateMessage, emptyPskIndex, cs)
  if (result.kind !== 'applicationMessage') throw new Error('not an application message')
  return {
    state: result.newState,
    plaintext: result.message,
    sender: { leafIndex, name, identityKey: encodeBase64url(node.leaf.signaturePublicKey) },
  }
}

export function encodeState(state: ClientState): Uint8Array {
  return encodeGroupState(state)
}

export function decodeState(bytes: Uint8Array): ClientState {
  const decoded = decodeGroupState(bytes, 0)?.[0]
  if (!decoded) throw new Error('the saved group state is damaged')
  return { ...decoded, clientConfig }
}

/** The epoch authenticator: equal for everyone who shares this epoch's group state. */
export function epochAuthenticator(state: ClientState): Uint8Array {
  return state.keySchedule.epochAuthenticator
}

export type { ClientState }
