// What the checks of MLS messages share: verdicts, whole-message decoding, leaves by name, a suite
// with fast digests, and small comparisons. No sockets, storage or room rules here.
import type { CiphersuiteImpl, LeafNode, MLSMessage, RatchetTree } from 'ts-mls'
import { decodeMlsMessage } from 'ts-mls'
import { leafToNodeIndex, toLeafIndex } from 'ts-mls/treemath.js'
import { type DeviceLink, readCredentialIdentity } from '../crypto/device-links.ts'
import { encodeBase64url } from '../protocol/base64url.ts'
import { cipherSuite, credentialName } from './suite.ts'

/** A leaf of the tree with the name its credential carries and its signature key (base64url). */
export interface Leaf {
  readonly leafIndex: number
  readonly name: string
  readonly identityKey: string
  /**
   * A linked device's approvals, up to the person's first key (shared/crypto/device-links.ts);
   * absent for a person's first device. Not checked here: whom to trust is the client's call.
   */
  readonly links?: readonly DeviceLink[]
}

/** A name and the identity key the server bound it to. */
export interface Binding {
  readonly name: string
  readonly identityKey: string
}

export type CheckFailureCode =
  | 'bad_group_info'
  | 'bad_key_package'
  | 'bad_commit'
  | 'commit_mismatch'
  | 'wrong_leaf'
  | 'key_mismatch'
  | 'bad_signature'

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: CheckFailureCode; readonly message: string }

export function refuse(code: CheckFailureCode, message: string): Checked<never> {
  return { ok: false, code, message }
}

/**
 * The suite the Delivery Service checks with: the clients' own, whose SHA-256, HMAC and HKDF are
 * computed in-line (suite.ts) rather than one WebCrypto round trip per call.
 */
export function checkingSuite(): Promise<CiphersuiteImpl> {
  return cipherSuite()
}

/** Every leaf of the tree that carries a name, in tree order. */
export function leavesOf(tree: RatchetTree): Leaf[] {
  const leaves: Leaf[] = []
  tree.forEach((node, index) => {
    const leaf = node?.nodeType === 'leaf' ? leafOf(node.leaf, index / 2) : undefined
    if (leaf) leaves.push(leaf)
  })
  return leaves
}

/** Decodes one whole MLS message: trailing bytes are refused, not ignored. */
export function decodeWhole(bytes: Uint8Array): MLSMessage | undefined {
  try {
    const decoded = decodeMlsMessage(bytes, 0)
    return decoded && decoded[1] === bytes.length ? decoded[0] : undefined
  } catch {
    return undefined
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export function leafAt(tree: RatchetTree, leafIndex: number): Leaf | undefined {
  const node = tree[leafToNodeIndex(toLeafIndex(leafIndex))]
  if (node?.nodeType !== 'leaf') return undefined
  return leafOf(node.leaf, leafIndex)
}

export function leafOf(leaf: LeafNode, leafIndex: number): Leaf | undefined {
  const name = credentialName(leaf.credential)
  if (name === undefined) return undefined
  const identityKey = encodeBase64url(leaf.signaturePublicKey)
  const links =
    leaf.credential.credentialType === 'basic'
      ? (readCredentialIdentity(leaf.credential.identity)?.links ?? [])
      : []
  return links.length === 0
    ? { leafIndex, name, identityKey }
    : { leafIndex, name, identityKey, links }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let index = 0; index < a.length; index += 1) if (a[index] !== b[index]) return false
  return true
}
