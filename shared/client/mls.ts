// One member's MLS operations over ts-mls 1.6.4, ciphersuite 1 (X25519, AES-128-GCM, SHA-256,
// Ed25519): key packages, founding, commits, Welcomes, messages with their authenticated sender.
// Bytes in, bytes out: it knows nothing of the room's protocol, sockets or storage.
import {
  type CiphersuiteImpl,
  type ClientConfig,
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
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type IncomingMessageCallback,
  joinGroup,
  type KeyPackage,
  type PrivateKeyPackage,
  type Proposal,
  processPrivateMessage,
} from 'ts-mls'
import { defaultClientConfig } from 'ts-mls/clientConfig.js'
import { decryptSenderData } from 'ts-mls/privateMessage.js'
import { encodeBase64url } from '../protocol/base64url.ts'
import { checkName } from '../protocol/names.ts'

export const CIPHERSUITE_NAME = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'

let suite: Promise<CiphersuiteImpl> | undefined
export function cipherSuite(): Promise<CiphersuiteImpl> {
  suite ??= getCiphersuiteImpl(getCiphersuiteFromName(CIPHERSUITE_NAME))
  return suite
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Credentials are names under the server's rules; which key a name may have is the trust book's
 * question, asked after every change, because a changed key needs the user, not a refusal.
 */
const clientConfig: ClientConfig = {
  ...defaultClientConfig,
  authService: {
    async validateCredential(credential) {
      return credential.credentialType === 'basic' && nameOf(credential.identity) !== undefined
    },
  },
}

function nameOf(identity: Uint8Array): string | undefined {
  try {
    const name = utf8Decoder.decode(identity)
    return checkName(name).ok ? name : undefined
  } catch {
    return undefined
  }
}

/** The identity key as ts-mls signs with it: PKCS#8 private key and raw public key. */
export interface SigningKeys {
  readonly name: string
  readonly signKey: Uint8Array
  readonly publicKey: Uint8Array
}

export interface OwnKeyPackage {
  readonly publicPackage: KeyPackage
  readonly privatePackage: PrivateKeyPackage
  /** The MLS message bytes to hand to the committer. */
  readonly encoded: Uint8Array
}

export interface GroupMember {
  readonly leafIndex: number
  readonly name: string
  /** base64url raw Ed25519 key: the same text the server and the trust store use. */
  readonly identityKey: string
}

export async function createKeyPackage(keys: SigningKeys): Promise<OwnKeyPackage> {
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    { credentialType: 'basic', identity: utf8.encode(keys.name) },
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

export async function foundGroup(own: OwnKeyPackage): Promise<ClientState> {
  const groupId = crypto.getRandomValues(new Uint8Array(16))
  return createGroup(
    groupId,
    own.publicPackage,
    own.privatePackage,
    [],
    await cipherSuite(),
    clientConfig,
  )
}

/** A KeyPackage someone else sent, with the name and key its credential carries. */
export interface PeerKeyPackage {
  readonly keyPackage: KeyPackage
  readonly name: string
  readonly identityKey: string
}

export async function readKeyPackage(bytes: Uint8Array): Promise<PeerKeyPackage> {
  const decoded = decodeMlsMessage(bytes, 0)?.[0]
  if (decoded?.wireformat !== 'mls_key_package') throw new Error('not an MLS KeyPackage')
  const { keyPackage } = decoded
  const credential = keyPackage.leafNode.credential
  const name = credential.credentialType === 'basic' ? nameOf(credential.identity) : undefined
  if (!name) throw new Error('the KeyPackage does not carry a valid name')
  return {
    keyPackage,
    name,
    identityKey: encodeBase64url(keyPackage.leafNode.signaturePublicKey),
  }
}

export function groupIdOf(state: ClientState): string {
  return encodeBase64url(state.groupContext.groupId)
}

export function epochOf(state: ClientState): number {
  return Number(state.groupContext.epoch)
}

export function isRemoved(state: ClientState): boolean {
  return state.groupActiveState.kind === 'removedFromGroup'
}

export function membersOf(state: ClientState): GroupMember[] {
  const members: GroupMember[] = []
  state.ratchetTree.forEach((node, index) => {
    if (node?.nodeType !== 'leaf') return
    const { credential, signaturePublicKey } = node.leaf
    const name = credential.credentialType === 'basic' ? nameOf(credential.identity) : undefined
    if (!name) return
    members.push({ leafIndex: index / 2, name, identityKey: encodeBase64url(signaturePublicKey) })
  })
  return members
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
    { extraProposals: proposals, ratchetTreeExtension: true },
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
  readonly added: string[]
  readonly removed: string[]
}

export async function applyCommit(state: ClientState, bytes: Uint8Array): Promise<CommitEffect> {
  const message = decodeMlsMessage(bytes, 0)?.[0]
  if (message?.wireformat !== 'mls_private_message') throw new Error('not an MLS commit')
  const before = new Map(membersOf(state).map((member) => [member.leafIndex, member.name]))
  const added: string[] = []
  const removed: string[] = []
  const observe: IncomingMessageCallback = (incoming) => {
    if (incoming.kind !== 'commit') return 'reject'
    for (const { proposal } of incoming.proposals) {
      if (proposal.proposalType === 'add') {
        const credential = proposal.add.keyPackage.leafNode.credential
        const name = credential.credentialType === 'basic' ? nameOf(credential.identity) : undefined
        added.push(name ?? '?')
      } else if (proposal.proposalType === 'remove') {
        removed.push(before.get(proposal.remove.removed) ?? '?')
      }
    }
    return 'accept'
  }
  const result = await processPrivateMessage(
    state,
    message.privateMessage,
    emptyPskIndex,
    await cipherSuite(),
    observe,
  )
  if (result.kind !== 'newState') throw new Error('expected a commit, got an application message')
  if (result.actionTaken !== 'accept') throw new Error('the commit was refused')
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
  const credential = node.leaf.credential
  const name = credential.credentialType === 'basic' ? nameOf(credential.identity) : undefined
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
