// The MLS group as anyone outside it can follow it: the GroupContext, the public ratchet tree and
// the last confirmation tag, from the founder's signed GroupInfo on and moved by checked commits
// (commit-check.ts). The server keeps it to check commits; a newcomer compares its digest with its
// own. No sockets, storage or room rules here.
import type { GroupContext, GroupInfo, RatchetTree } from 'ts-mls'
import { validateRatchetTree } from 'ts-mls/clientState.js'
import { mapDecoders } from 'ts-mls/codec/tlsDecoder.js'
import { contramapBufferEncoders, encode } from 'ts-mls/codec/tlsEncoder.js'
import { decodeVarLenData, varLenDataEncoder } from 'ts-mls/codec/variableLength.js'
import { decodeGroupContext, groupContextEncoder } from 'ts-mls/groupContext.js'
import { ratchetTreeFromExtension, verifyGroupInfoSignature } from 'ts-mls/groupInfo.js'
import { decodeRatchetTree, ratchetTreeEncoder } from 'ts-mls/ratchetTree.js'
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import { nameKey } from '../protocol/names.ts'
import {
  type Binding,
  type Checked,
  checkingSuite,
  decodeWhole,
  describe,
  leavesOf,
  refuse,
} from './checking.ts'
import { clientConfig } from './suite.ts'

export interface PublicGroup {
  readonly context: GroupContext
  readonly tree: RatchetTree
  /** This epoch's confirmation tag: the next commit's transcript hash starts from it. */
  readonly confirmationTag: Uint8Array
}

export function epochOf(group: PublicGroup): number {
  return Number(group.context.epoch)
}

/** Decodes one whole MLS message: trailing bytes are refused, not ignored. */
// ---- founding -------------------------------------------------------------------------------

/**
 * The group a founder made, from the GroupInfo it signed: epoch 0, the founder's leaf alone with
 * the founder's bound key, a valid tree whose hash the context carries.
 */
export async function groupFromGroupInfo(
  bytes: Uint8Array,
  founder: Binding,
): Promise<Checked<PublicGroup>> {
  const message = decodeWhole(bytes)
  if (message?.wireformat !== 'mls_group_info') {
    return refuse('bad_group_info', 'not an MLS GroupInfo')
  }
  const info: GroupInfo = message.groupInfo
  const cs = await checkingSuite()
  const { groupContext: context } = info
  if (context.cipherSuite !== cs.name || context.version !== 'mls10') {
    return refuse('bad_group_info', 'the group must use MLS 1.0 and ciphersuite 1')
  }
  if (context.epoch !== 0n || context.confirmedTranscriptHash.length !== 0) {
    return refuse('bad_group_info', 'a new group starts at epoch 0 with an empty transcript')
  }
  if (context.groupId.length !== 16 || context.extensions.length !== 0) {
    return refuse('bad_group_info', 'the group id must be 16 bytes and the group plain')
  }
  let tree: RatchetTree | undefined
  try {
    tree = ratchetTreeFromExtension(info)
  } catch (error) {
    return refuse('bad_group_info', `unreadable ratchet tree: ${describe(error)}`)
  }
  if (!tree) return refuse('bad_group_info', 'the GroupInfo carries no ratchet tree')
  const leaves = leavesOf(tree)
  const only = leaves[0]
  if (tree.length !== 1 || leaves.length !== 1 || !only || info.signer !== 0) {
    return refuse('bad_group_info', 'a new group holds its founder alone')
  }
  if (nameKey(only.name) !== nameKey(founder.name)) {
    return refuse('wrong_leaf', `the founding leaf is ${only.name}'s, not ${founder.name}'s`)
  }
  if (only.identityKey !== founder.identityKey) {
    return refuse('key_mismatch', `the founding leaf does not carry ${founder.name}'s key`)
  }
  const invalid = await validateRatchetTree(
    tree,
    context,
    clientConfig.lifetimeConfig,
    clientConfig.authService,
    context.treeHash,
    cs,
  )
  if (invalid) return refuse('bad_group_info', `invalid tree: ${invalid.message}`)
  const publicKey = decodeBase64url(founder.identityKey)
  if (!(await verifyGroupInfoSignature(info, publicKey, cs.signature))) {
    return refuse('bad_signature', `the GroupInfo is not signed with ${founder.name}'s key`)
  }
  return { ok: true, value: { context, tree, confirmationTag: info.confirmationTag } }
}

// ---- storage and digests --------------------------------------------------------------------

const publicGroupEncoder = contramapBufferEncoders(
  [groupContextEncoder, ratchetTreeEncoder, varLenDataEncoder],
  (group: PublicGroup) => [group.context, group.tree, group.confirmationTag] as const,
)
const decodePublicGroupBytes = mapDecoders(
  [decodeGroupContext, decodeRatchetTree, decodeVarLenData],
  (context, tree, confirmationTag): PublicGroup => ({ context, tree, confirmationTag }),
)

export function encodePublicGroup(group: PublicGroup): Uint8Array {
  return encode(publicGroupEncoder)(group)
}

export function decodePublicGroup(bytes: Uint8Array): PublicGroup {
  const decoded = decodePublicGroupBytes(bytes, 0)
  if (!decoded || decoded[1] !== bytes.length) throw new Error('the stored group state is damaged')
  return decoded[0]
}

/**
 * One digest of an epoch as everyone in it must see it: its GroupContext (group, epoch, tree hash,
 * transcript) and the confirmation tag that proves the epoch's secrets. A newcomer compares the
 * server's with its own to know its Welcome put it in the room's group and not in a copy.
 */
export async function epochDigest(
  context: GroupContext,
  confirmationTag: Uint8Array,
): Promise<string> {
  const label = new TextEncoder().encode('chatbox-epoch-v1')
  const input = encode(
    contramapBufferEncoders(
      [varLenDataEncoder, groupContextEncoder, varLenDataEncoder],
      (value: [Uint8Array, GroupContext, Uint8Array]) => value,
    ),
  )([label, context, confirmationTag])
  return encodeBase64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(input))),
  )
}

export type { Binding, Checked, CheckFailureCode, Leaf } from './checking.ts'
export { leavesOf } from './checking.ts'
