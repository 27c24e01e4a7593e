// Checks a KeyPackage as it arrives and a commit before it is logged, against the group's public
// state and what the commit claims (RFC 9420 lets a Delivery Service read PublicMessage handshakes).
// It needs no secret and reads no message. No sockets, storage or room rules here.
import type { ClientState, KeyPackage, Proposal, RatchetTree, UpdatePath } from 'ts-mls'
import { emptyPskIndex } from 'ts-mls'
import {
  applyProposals,
  nextEpochContext,
  validateLeafNodeCredentialAndKeyUniqueness,
  validateLeafNodeUpdateOrCommit,
} from 'ts-mls/clientState.js'
import { encode } from 'ts-mls/codec/tlsEncoder.js'
import { filterNewLeaves } from 'ts-mls/createCommit.js'
import { verifyFramedContentSignature } from 'ts-mls/framedContent.js'
import { keyPackageEncoder, verifyKeyPackage } from 'ts-mls/keyPackage.js'
import { verifyLeafNodeSignatureKeyPackage } from 'ts-mls/leafNode.js'
import { filteredDirectPathAndCopathResolution } from 'ts-mls/ratchetTree.js'
import { treeHashRoot } from 'ts-mls/treeHash.js'
import { leafToNodeIndex, toLeafIndex } from 'ts-mls/treemath.js'
import { applyUpdatePath } from 'ts-mls/updatePath.js'
import { sameKeys } from '../crypto/identity-key.ts'
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import { MAX_KEY_PACKAGE_BYTES } from '../protocol/limits.ts'
import { nameKey } from '../protocol/names.ts'
import {
  type Binding,
  type Checked,
  checkingSuite,
  decodeWhole,
  describe,
  equalBytes,
  type Leaf,
  leafAt,
  refuse,
} from './checking.ts'
import { epochOf, type PublicGroup } from './public-group.ts'
import { clientConfig, credentialName } from './suite.ts'

// ---- key packages ---------------------------------------------------------------------------

export interface CheckedKeyPackage {
  readonly keyPackage: KeyPackage
  /** The KeyPackage's own encoding, as an Add proposal carries it. */
  readonly encoded: Uint8Array
}

/** A KeyPackage as it arrives from `sender`: small, well-formed, signed, and theirs. */
export async function checkKeyPackage(
  bytes: Uint8Array,
  sender: Binding,
): Promise<Checked<CheckedKeyPackage>> {
  if (bytes.length > MAX_KEY_PACKAGE_BYTES) {
    return refuse('bad_key_package', `a KeyPackage is at most ${MAX_KEY_PACKAGE_BYTES} bytes`)
  }
  const message = decodeWhole(bytes)
  if (message?.wireformat !== 'mls_key_package') {
    return refuse('bad_key_package', 'not an MLS KeyPackage')
  }
  const { keyPackage } = message
  const cs = await checkingSuite()
  if (keyPackage.cipherSuite !== cs.name || keyPackage.version !== 'mls10') {
    return refuse('bad_key_package', 'the KeyPackage must use MLS 1.0 and ciphersuite 1')
  }
  const name = credentialName(keyPackage.leafNode.credential)
  if (name === undefined || nameKey(name) !== nameKey(sender.name)) {
    return refuse('bad_key_package', `the KeyPackage must name its sender, ${sender.name}`)
  }
  if (encodeBase64url(keyPackage.leafNode.signaturePublicKey) !== sender.identityKey) {
    return refuse('key_mismatch', `the KeyPackage does not carry ${sender.name}'s key`)
  }
  if (
    keyPackage.initKey.length === 0 ||
    equalBytes(keyPackage.initKey, keyPackage.leafNode.hpkePublicKey)
  ) {
    return refuse('bad_key_package', 'the KeyPackage needs distinct init and encryption keys')
  }
  const signed =
    (await verifyKeyPackage(keyPackage, cs.signature)) &&
    (await verifyLeafNodeSignatureKeyPackage(keyPackage.leafNode, cs.signature))
  if (!signed) return refuse('bad_key_package', 'the KeyPackage signature does not verify')
  return { ok: true, value: { keyPackage, encoded: encode(keyPackageEncoder)(keyPackage) } }
}

// ---- commits --------------------------------------------------------------------------------

export interface CommitClaims {
  /** The member the server asked to commit. */
  readonly committer: Binding
  /** What the commit claims to add: each device's name, key and the KeyPackage relayed for it. */
  readonly adds: ReadonlyArray<Binding & { readonly keyPackage: Uint8Array }>
  /** The identity keys of the leaves the commit claims to remove. */
  readonly removes: readonly string[]
}

export interface CheckedCommit {
  readonly next: PublicGroup
  /** Leaves of the new tree that the commit added, with their indexes. */
  readonly added: Leaf[]
}

/**
 * Checks a commit against the group and the claims it travels with, as RFC 9420 lets a Delivery
 * Service do for PublicMessage handshakes: the right group and epoch, the asked member's leaf and
 * signature, proposals that are exactly the claimed adds and removes, a valid tree update. What
 * only members can check (the membership tag, the encrypted path secrets, the confirmation tag)
 * they check, and report when it fails.
 */
export async function checkCommit(
  group: PublicGroup,
  bytes: Uint8Array,
  claims: CommitClaims,
): Promise<Checked<CheckedCommit>> {
  const message = decodeWhole(bytes)
  if (message?.wireformat !== 'mls_public_message') {
    return refuse('bad_commit', 'not an MLS PublicMessage')
  }
  const { content, auth } = message.publicMessage
  if (content.contentType !== 'commit' || auth.contentType !== 'commit') {
    return refuse('bad_commit', 'the message is not a commit')
  }
  if (content.sender.senderType !== 'member') {
    return refuse('bad_commit', 'a commit here comes from a member')
  }
  if (!equalBytes(content.groupId, group.context.groupId)) {
    return refuse('bad_commit', "the commit is for another group than the room's")
  }
  if (content.epoch !== group.context.epoch) {
    return refuse(
      'bad_commit',
      `the commit is made at epoch ${content.epoch}, not ${epochOf(group)}`,
    )
  }
  if (content.authenticatedData.length !== 0) {
    return refuse('bad_commit', 'a commit here carries no authenticated data')
  }

  const committerLeaf = content.sender.leafIndex
  const leaf = leafAt(group.tree, committerLeaf)
  if (!leaf || nameKey(leaf.name) !== nameKey(claims.committer.name)) {
    return refuse('wrong_leaf', `leaf ${committerLeaf} is not ${claims.committer.name}'s`)
  }
  if (leaf.identityKey !== claims.committer.identityKey) {
    return refuse('key_mismatch', `${claims.committer.name}'s leaf does not carry its bound key`)
  }
  const cs = await checkingSuite()
  const signedBy = decodeBase64url(claims.committer.identityKey)
  const signed = await verifyFramedContentSignature(
    signedBy,
    'mls_public_message',
    content,
    auth,
    group.context,
    cs.signature,
  )
  if (!signed)
    return refuse('bad_signature', `the commit is not signed with ${claims.committer.name}'s key`)

  const proposals: Proposal[] = []
  for (const item of content.commit.proposals) {
    if (item.proposalOrRefType !== 'proposal') {
      return refuse('bad_commit', 'proposals travel inside the commit here, not by reference')
    }
    proposals.push(item.proposal)
  }
  const mismatch = compareProposals(group.tree, proposals, claims)
  if (mismatch) return mismatch

  // The library's own checks of the proposals and of the tree they make (KeyPackage signatures,
  // unique keys, capabilities). It reads only the public parts of the state handed to it.
  let applied: Awaited<ReturnType<typeof applyProposals>>
  try {
    applied = await applyProposals(
      publicState(group),
      content.commit.proposals,
      toLeafIndex(committerLeaf),
      emptyPskIndex,
      false,
      cs,
    )
  } catch (error) {
    return refuse('bad_commit', `invalid proposals: ${describe(error)}`)
  }
  if (applied.additionalResult.kind !== 'memberCommit') {
    return refuse('bad_commit', 'only adds and removes are committed here')
  }
  const addedLeaves = applied.additionalResult.addedLeafNodes.map(([index]) => Number(index))

  let tree = applied.tree
  const { path } = content.commit
  if (applied.needsUpdatePath && !path) {
    return refuse('bad_commit', 'a commit that removes someone must carry an update path')
  }
  if (path) {
    const checked = await checkUpdatePath(tree, committerLeaf, path, addedLeaves, group, claims)
    if (!checked.ok) return checked
    tree = checked.value
  }
  const treeHash = await treeHashRoot(tree, cs.hash)
  const context = await nextEpochContext(
    group.context,
    'mls_public_message',
    content,
    auth.signature,
    treeHash,
    group.confirmationTag,
    cs.hash,
  )
  const added = addedLeaves.map((index) => leafAt(tree, index)).filter((item) => item !== undefined)
  return {
    ok: true,
    value: { next: { context, tree, confirmationTag: auth.confirmationTag }, added },
  }
}

/**
 * The proposals must be exactly the claimed removes and the relayed KeyPackages, nothing else.
 * Leaves are matched by identity key: one name may have several devices, each its own leaf.
 */
function compareProposals(
  tree: RatchetTree,
  proposals: Proposal[],
  claims: CommitClaims,
): Checked<never> | undefined {
  const removedKeys: string[] = []
  const addedKeys: string[] = []
  const claimedAdds = new Map(claims.adds.map((add) => [add.identityKey, add]))
  for (const proposal of proposals) {
    if (proposal.proposalType === 'remove') {
      const removed = leafAt(tree, proposal.remove.removed)
      if (!removed) return refuse('bad_commit', `leaf ${proposal.remove.removed} is empty`)
      removedKeys.push(removed.identityKey)
    } else if (proposal.proposalType === 'add') {
      const { keyPackage } = proposal.add
      const name = credentialName(keyPackage.leafNode.credential)
      const key = encodeBase64url(keyPackage.leafNode.signaturePublicKey)
      const claim = claimedAdds.get(key)
      if (name === undefined || !claim) {
        return refuse(
          'commit_mismatch',
          `the commit adds ${name ?? 'a nameless leaf'} without claiming it`,
        )
      }
      if (nameKey(name) !== nameKey(claim.name)) {
        return refuse('key_mismatch', `the commit adds ${claim.name}'s key under the name ${name}`)
      }
      if (!equalBytes(encode(keyPackageEncoder)(keyPackage), claim.keyPackage)) {
        return refuse(
          'commit_mismatch',
          `the commit adds ${name} with another KeyPackage than ${name} sent`,
        )
      }
      addedKeys.push(key)
    } else {
      return refuse('bad_commit', `a ${proposal.proposalType} proposal is not used here`)
    }
  }
  if (!sameKeys(removedKeys, claims.removes)) {
    return refuse('commit_mismatch', 'the leaves the commit removes are not the ones it claims')
  }
  if (
    !sameKeys(
      addedKeys,
      claims.adds.map((add) => add.identityKey),
    )
  ) {
    return refuse('commit_mismatch', 'the members the commit adds are not the ones it claims')
  }
  return undefined
}

async function checkUpdatePath(
  tree: RatchetTree,
  committerLeaf: number,
  path: UpdatePath,
  addedLeaves: number[],
  group: PublicGroup,
  claims: CommitClaims,
): Promise<Checked<RatchetTree>> {
  const cs = await checkingSuite()
  const { leafNode } = path
  const name = credentialName(leafNode.credential)
  if (name === undefined || nameKey(name) !== nameKey(claims.committer.name)) {
    return refuse('wrong_leaf', "the update path's leaf does not name the committer")
  }
  if (encodeBase64url(leafNode.signaturePublicKey) !== claims.committer.identityKey) {
    return refuse('key_mismatch', "the update path's leaf does not carry the committer's key")
  }
  const invalidLeaf =
    (await validateLeafNodeUpdateOrCommit(
      leafNode,
      committerLeaf,
      group.context,
      clientConfig.authService,
      cs.signature,
    )) ?? (await validateLeafNodeCredentialAndKeyUniqueness(tree, leafNode, committerLeaf))
  if (invalidLeaf) return refuse('bad_commit', `invalid committer leaf: ${invalidLeaf.message}`)
  // Every member on the copath must get one encrypted path secret; newcomers get theirs in the
  // Welcome. A missing one would leave its member unable to follow the commit.
  const excluded = addedLeaves.map((index) => leafToNodeIndex(toLeafIndex(index)))
  const expected = filteredDirectPathAndCopathResolution(toLeafIndex(committerLeaf), tree)
  if (expected.length !== path.nodes.length) {
    return refuse('bad_commit', 'the update path does not match the tree')
  }
  for (const [index, step] of expected.entries()) {
    const node = path.nodes[index]
    if (node?.encryptedPathSecret.length !== filterNewLeaves(step.resolution, excluded).length) {
      return refuse('bad_commit', 'the update path leaves some member without a path secret')
    }
  }
  try {
    return {
      ok: true,
      value: await applyUpdatePath(tree, toLeafIndex(committerLeaf), path, cs.hash),
    }
  } catch (error) {
    return refuse('bad_commit', `invalid update path: ${describe(error)}`)
  }
}

/**
 * What ts-mls's `applyProposals` reads of a member's state is public: the tree, the context and
 * the configuration. The private path is only consulted to tell whether "we" were removed, which a
 * Delivery Service never is; the key schedule only for external commits, which are refused.
 */
function publicState(group: PublicGroup): ClientState {
  return {
    groupContext: group.context,
    ratchetTree: group.tree,
    clientConfig,
    unappliedProposals: {},
    privatePath: { leafIndex: -1, privateKeys: {} },
  } as unknown as ClientState
}
