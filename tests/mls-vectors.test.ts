// The IETF test vectors for MLS's building blocks, ciphersuite 1, run against the installed ts-mls
// (with the project's patch): tree hashes, resolutions and parent hashes of given trees; adding,
// updating and removing leaves; TreeKEM update paths and their path and commit secrets; the secret
// tree's keys and nonces. Anything made faster inside ts-mls must still produce these bytes.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type CiphersuiteImpl, getCiphersuiteImpl } from 'ts-mls'
import { applyUpdatePathSecret } from 'ts-mls/createCommit.js'
import { getCiphersuiteFromId, getCiphersuiteNameFromId } from 'ts-mls/crypto/ciphersuite.js'
import { deriveSecret } from 'ts-mls/crypto/kdf.js'
import type { GroupContext } from 'ts-mls/groupContext.js'
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js'
import { verifyLeafNodeSignature } from 'ts-mls/leafNode.js'
import { verifyParentHashes } from 'ts-mls/parentHash.js'
import { getCommitSecret } from 'ts-mls/pathSecrets.js'
import { type PrivateKeyPath, toPrivateKeyPath } from 'ts-mls/privateKeyPath.js'
import { decodeProposal, type Proposal } from 'ts-mls/proposal.js'
import {
  addLeafNode,
  decodeRatchetTree,
  encodeRatchetTree,
  getHpkePublicKey,
  type RatchetTree,
  removeLeafNode,
  resolution,
  updateLeafNode,
} from 'ts-mls/ratchetTree.js'
import { createSecretTree, ratchetToGeneration } from 'ts-mls/secretTree.js'
import { expandSenderDataKey, expandSenderDataNonce, type ReuseGuard } from 'ts-mls/sender.js'
import { treeHash, treeHashRoot } from 'ts-mls/treeHash.js'
import { leafToNodeIndex, toLeafIndex, toNodeIndex } from 'ts-mls/treemath.js'
import { applyUpdatePath, createUpdatePath, decodeUpdatePath } from 'ts-mls/updatePath.js'
import * as v from 'valibot'
import { cipherSuite } from '../shared/mls/suite.ts'
import { Hex, hex, SUITE_ID, suiteVectors, vectorsPresent } from './support/mls-vectors.ts'

// TreeKEM's 77 scenarios do real HPKE on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(120_000)

const FILES = ['tree-validation', 'tree-operations', 'treekem', 'secret-tree'] as const
const present = vectorsPresent(FILES)
// Both the library's own suite 1 and the product's (in-line SHA-256, HMAC and HKDF).
const SUITES: [string, CiphersuiteImpl][] = [
  ['ts-mls suite 1', await getCiphersuiteImpl(getCiphersuiteFromId(SUITE_ID))],
  ['chatbox suite 1', await cipherSuite()],
]

const ZERO_GUARD = new Uint8Array(4) as ReuseGuard
const RETENTION = { ...defaultKeyRetentionConfig, maximumForwardRatchetSteps: 1 << 16 }

function readTree(bytes: string): RatchetTree {
  const tree = decodeRatchetTree(hex(bytes), 0)?.[0]
  if (!tree) throw new Error('the vector holds a tree that does not decode')
  return tree
}

const TreeValidationSchema = v.object({
  tree: Hex,
  group_id: Hex,
  tree_hashes: v.array(Hex),
  resolutions: v.array(v.array(v.number())),
})

const TreeOperationSchema = v.object({
  proposal: Hex,
  proposal_sender: v.number(),
  tree_before: Hex,
  tree_hash_before: Hex,
  tree_after: Hex,
  tree_hash_after: Hex,
})

const PathSecretSchema = v.object({ node: v.number(), path_secret: Hex })
const TreeKemSchema = v.object({
  group_id: Hex,
  epoch: v.number(),
  confirmed_transcript_hash: Hex,
  ratchet_tree: Hex,
  leaves_private: v.array(
    v.object({
      index: v.number(),
      encryption_priv: Hex,
      signature_priv: Hex,
      path_secrets: v.array(PathSecretSchema),
    }),
  ),
  update_paths: v.array(
    v.object({
      sender: v.number(),
      update_path: Hex,
      path_secrets: v.array(v.nullable(Hex)),
      commit_secret: Hex,
      tree_hash_after: Hex,
    }),
  ),
})
type TreeKem = v.InferOutput<typeof TreeKemSchema>

const GenerationSchema = v.object({
  generation: v.number(),
  handshake_key: Hex,
  handshake_nonce: Hex,
  application_key: Hex,
  application_nonce: Hex,
})
const SecretTreeSchema = v.object({
  encryption_secret: Hex,
  sender_data: v.object({ sender_data_secret: Hex, ciphertext: Hex, key: Hex, nonce: Hex }),
  leaves: v.array(v.array(GenerationSchema)),
})

function applyProposal(tree: RatchetTree, proposal: Proposal, sender: number): RatchetTree {
  switch (proposal.proposalType) {
    case 'add':
      return addLeafNode(tree, proposal.add.keyPackage.leafNode)[0]
    case 'update':
      return updateLeafNode(tree, proposal.update.leafNode, toLeafIndex(sender))
    case 'remove':
      return removeLeafNode(tree, toLeafIndex(proposal.remove.removed))
    default:
      throw new Error(`no tree operation for a ${proposal.proposalType} proposal`)
  }
}

/** Each leaf's private keys as ts-mls holds them: derived from its path secrets, plus its leaf key. */
async function privatePathOf(
  leaf: TreeKem['leaves_private'][number],
  impl: CiphersuiteImpl,
): Promise<PrivateKeyPath> {
  const secrets = Object.fromEntries(leaf.path_secrets.map((s) => [s.node, hex(s.path_secret)]))
  const derived = await toPrivateKeyPath(secrets, leaf.index, impl)
  const leafNode = leafToNodeIndex(toLeafIndex(leaf.index))
  return {
    ...derived,
    privateKeys: { ...derived.privateKeys, [leafNode]: hex(leaf.encryption_priv) },
  }
}

/** The receiver's side of an update path: the path secret it decrypts and the commit secret. */
async function receive(
  impl: CiphersuiteImpl,
  tree: RatchetTree,
  path: PrivateKeyPath,
  sender: number,
  context: GroupContext,
  update: Parameters<typeof applyUpdatePathSecret>[4],
) {
  const found = await applyUpdatePathSecret(
    tree,
    path,
    toLeafIndex(sender),
    context,
    update,
    [],
    impl,
  )
  const commitSecret = await getCommitSecret(tree, found.nodeIndex, found.pathSecret, impl.kdf)
  return { pathSecret: found.pathSecret, commitSecret }
}

async function playTreeKem(data: TreeKem, impl: CiphersuiteImpl): Promise<void> {
  const tree = readTree(data.ratchet_tree)
  const context: GroupContext = {
    version: 'mls10',
    cipherSuite: getCiphersuiteNameFromId(SUITE_ID),
    groupId: hex(data.group_id),
    epoch: BigInt(data.epoch),
    treeHash: await treeHashRoot(tree, impl.hash),
    confirmedTranscriptHash: hex(data.confirmed_transcript_hash),
    extensions: [],
  }
  // Every public key on a leaf's path is the one its path secret derives.
  for (const leaf of data.leaves_private) {
    for (const { node, path_secret } of leaf.path_secrets) {
      const nodeSecret = await deriveSecret(hex(path_secret), 'node', impl.kdf)
      const { publicKey } = await impl.hpke.deriveKeyPair(nodeSecret)
      const held = tree[node]
      if (!held) throw new Error(`no node ${node} for a path secret`)
      expect(getHpkePublicKey(held)).toEqual(await impl.hpke.exportPublicKey(publicKey))
    }
  }
  const paths = await Promise.all(data.leaves_private.map((leaf) => privatePathOf(leaf, impl)))
  for (const step of data.update_paths) {
    const update = decodeUpdatePath(hex(step.update_path), 0)?.[0]
    if (!update) throw new Error('the vector holds an update path that does not decode')
    const updated = await applyUpdatePath(tree, toLeafIndex(step.sender), update, impl.hash)
    const treeHashAfter = await treeHashRoot(updated, impl.hash)
    expect(treeHashAfter).toEqual(hex(step.tree_hash_after))
    const afterContext = { ...context, treeHash: treeHashAfter }
    for (const path of paths.filter((p) => p.leafIndex !== step.sender)) {
      const got = await receive(impl, tree, path, step.sender, afterContext, update)
      expect(got.pathSecret).toEqual(hex(step.path_secrets[path.leafIndex] ?? ''))
      expect(got.commitSecret).toEqual(hex(step.commit_secret))
    }
    // And back: the sender makes a fresh path over the updated tree, and every other leaf
    // decrypts the same commit secret from it.
    const senderLeaf = data.leaves_private.find((leaf) => leaf.index === step.sender)
    if (!senderLeaf) throw new Error('the vector lacks the sender’s private state')
    const [made, fresh, secrets] = await createUpdatePath(
      updated,
      toLeafIndex(step.sender),
      afterContext,
      hex(senderLeaf.signature_priv),
      impl,
    )
    const rootSecret = secrets.at(-1)
    if (!rootSecret) throw new Error('createUpdatePath made no path secrets')
    const expected = await deriveSecret(rootSecret.secret, 'path', impl.kdf)
    const nextContext = {
      ...context,
      epoch: context.epoch + 1n,
      treeHash: await treeHashRoot(made, impl.hash),
    }
    for (const path of paths.filter((p) => p.leafIndex !== step.sender)) {
      expect(
        (await receive(impl, tree, path, step.sender, nextContext, fresh)).commitSecret,
      ).toEqual(expected)
    }
  }
}

for (const [label, impl] of SUITES) {
  describe.skipIf(!present)(`IETF MLS building-block vectors, ${label}`, () => {
    test('every tree-validation tree has the given node hashes, resolutions and parent hashes', async () => {
      const vectors = suiteVectors('tree-validation', TreeValidationSchema)
      expect(vectors.length).toBeGreaterThan(0)
      for (const data of vectors) {
        const tree = readTree(data.tree)
        for (const [index, expected] of data.tree_hashes.entries()) {
          expect(await treeHash(tree, toNodeIndex(index), impl.hash)).toEqual(hex(expected))
        }
        for (const [index, expected] of data.resolutions.entries()) {
          expect(resolution(tree, toNodeIndex(index))).toEqual(expected.map(toNodeIndex))
        }
        expect(await verifyParentHashes(tree, impl.hash)).toBe(true)
        for (const [index, node] of tree.entries()) {
          if (node?.nodeType !== 'leaf') continue
          const groupId = hex(data.group_id)
          expect(await verifyLeafNodeSignature(node.leaf, groupId, index / 2, impl.signature)).toBe(
            true,
          )
        }
      }
    })

    test('every tree-operations proposal turns the tree before into the tree after', async () => {
      const vectors = suiteVectors('tree-operations', TreeOperationSchema)
      expect(vectors.length).toBeGreaterThan(0)
      for (const data of vectors) {
        const before = readTree(data.tree_before)
        expect(await treeHashRoot(before, impl.hash)).toEqual(hex(data.tree_hash_before))
        const proposal = decodeProposal(hex(data.proposal), 0)?.[0]
        if (!proposal) throw new Error('the vector holds a proposal that does not decode')
        const after = applyProposal(before, proposal, data.proposal_sender)
        expect(encodeRatchetTree(after)).toEqual(hex(data.tree_after))
        expect(await treeHashRoot(after, impl.hash)).toEqual(hex(data.tree_hash_after))
        // The tree before is a value: applying the proposal left its hash as it was.
        expect(await treeHashRoot(before, impl.hash)).toEqual(hex(data.tree_hash_before))
      }
    })

    test('every treekem update path gives each leaf the given path and commit secrets', async () => {
      const vectors = suiteVectors('treekem', TreeKemSchema)
      expect(vectors.length).toBeGreaterThan(0)
      for (const data of vectors) await playTreeKem(data, impl)
    })

    test('every secret tree gives the given sender-data, handshake and application keys', async () => {
      const vectors = suiteVectors('secret-tree', SecretTreeSchema)
      expect(vectors.length).toBeGreaterThan(0)
      for (const data of vectors) {
        const { sender_data: senderData } = data
        const secret = hex(senderData.sender_data_secret)
        const sample = hex(senderData.ciphertext)
        expect(await expandSenderDataKey(impl, secret, sample)).toEqual(hex(senderData.key))
        expect(await expandSenderDataNonce(impl, secret, sample)).toEqual(hex(senderData.nonce))
        // Through ratchetToGeneration, as a receiver meets each generation (with an all-zero
        // reuse guard, so the nonce is the ratchet's own), however the tree derives its nodes.
        let tree = await createSecretTree(data.leaves.length, hex(data.encryption_secret), impl.kdf)
        for (const [leafIndex, generations] of data.leaves.entries()) {
          for (const want of generations) {
            for (const [contentType, key, nonce] of [
              ['commit', want.handshake_key, want.handshake_nonce],
              ['application', want.application_key, want.application_nonce],
            ] as const) {
              const senderData = { leafIndex, generation: want.generation, reuseGuard: ZERO_GUARD }
              const at = await ratchetToGeneration(tree, senderData, contentType, RETENTION, impl)
              expect(at.generation).toBe(want.generation)
              expect(at.key).toEqual(hex(key))
              expect(at.nonce).toEqual(hex(nonce))
              tree = at.newTree
            }
          }
        }
      }
    })
  })
}
