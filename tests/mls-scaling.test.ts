// How a membership change's cost grows with the group: the hashes and key derivations that the
// committer spends making, and a member spends processing, a commit that adds one newcomer,
// counted at two group sizes on the real library. MLS promises O(log N) work per member: making
// the group 4× larger may add a few direct paths' worth, never another tree's worth.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import {
  type CiphersuiteImpl,
  type ClientState,
  createCommit,
  decodeMlsMessage,
  emptyPskIndex,
  encodeMlsMessage,
  processPublicMessage,
} from 'ts-mls'
import { treeHashRoot } from 'ts-mls/treeHash.js'
import { cipherSuite, commitChanges, foundGroup, joinFromWelcome } from '../shared/client/mls.ts'
import { freshKeyPackage } from './support/mls-member.ts'

// Building a 256-member group is a few seconds of real MLS on a shared two-core machine.
setDefaultTimeout(120_000)

const SMALL = 64
const LARGE = 256

const keyPackage = freshKeyPackage

interface Counts {
  digest: number
  expand: number
}

/** The product's suite, with its SHA-256 digests and HKDF expansions counted. */
function countingSuite(suite: CiphersuiteImpl): { suite: CiphersuiteImpl; counts: Counts } {
  const counts: Counts = { digest: 0, expand: 0 }
  return {
    counts,
    suite: {
      ...suite,
      hash: {
        ...suite.hash,
        digest: (data) => {
          counts.digest += 1
          return suite.hash.digest(data)
        },
      },
      kdf: {
        ...suite.kdf,
        expand: (prk, info, length) => {
          counts.expand += 1
          return suite.kdf.expand(prk, info, length)
        },
      },
    },
  }
}

type Counted = { suite: CiphersuiteImpl; counts: Counts }

/**
 * One commit adding one newcomer, made by the committer and processed by another member from its
 * bytes, each with its own suite object: two devices share no memo and no decoded objects.
 */
async function addOne(
  states: { committer: ClientState; member: ClientState },
  sides: { committer: Counted; member: Counted },
  name: string,
) {
  const newcomer = await keyPackage(name)
  sides.committer.counts.digest = 0
  sides.committer.counts.expand = 0
  const made = await createCommit(
    { state: states.committer, cipherSuite: sides.committer.suite },
    {
      extraProposals: [{ proposalType: 'add', add: { keyPackage: newcomer.publicPackage } }],
      ratchetTreeExtension: true,
      wireAsPublicMessage: true,
    },
  )
  const received = decodeMlsMessage(encodeMlsMessage(made.commit), 0)?.[0]
  if (received?.wireformat !== 'mls_public_message') throw new Error('not a PublicMessage')
  sides.member.counts.digest = 0
  sides.member.counts.expand = 0
  const processed = await processPublicMessage(
    states.member,
    received.publicMessage,
    emptyPskIndex,
    sides.member.suite,
  )
  return {
    states: { committer: made.newState, member: processed.newState },
    make: { ...sides.committer.counts },
    process: { ...sides.member.counts },
  }
}

/** Hashes and derivations for the committer making, and a member processing, one add at N. */
async function costOfAddingOne(size: number): Promise<{ make: Counts; process: Counts }> {
  const founder = await keyPackage('founder')
  const others = await Promise.all(
    Array.from({ length: size - 1 }, (_, index) => keyPackage(`member${index}`)),
  )
  const grown = await commitChanges((await foundGroup(founder)).state, {
    add: others.map((own) => own.publicPackage),
    removeLeaves: [],
  })
  const witness = others.at(-1)
  if (!grown.welcome || !witness) throw new Error('the group did not grow')
  const sides = {
    committer: countingSuite(await cipherSuite()),
    member: countingSuite(await cipherSuite()),
  }
  const member = await joinFromWelcome(grown.welcome, witness)
  // Neither side is new to the tree it holds: one add first, then the one that is counted.
  const warm = await addOne({ committer: grown.state, member }, sides, 'firstnewcomer')
  const { states, make, process } = await addOne(warm.states, sides, 'nextnewcomer')
  // What was remembered is what a from-scratch hash gives: a new Hash object has no memo.
  const fresh = { ...sides.member.suite.hash }
  for (const state of [states.committer, states.member]) {
    expect(await treeHashRoot(state.ratchetTree, fresh)).toEqual(state.groupContext.treeHash)
  }
  return { make, process }
}

describe('the cost of adding one member as the group grows', () => {
  test('making and processing a one-newcomer add take O(log N) hashes and derivations', async () => {
    const small = await costOfAddingOne(SMALL)
    const large = await costOfAddingOne(LARGE)
    console.info(`one-newcomer add at ${SMALL} and ${LARGE} members:`, { small, large })
    // Four times the members is two more levels on each direct path; a whole-tree pass (2N − 1
    // nodes) would add at least 384 hashes, and the secret tree ~6 derivations per added node.
    for (const side of ['make', 'process'] as const) {
      expect(large[side].digest - small[side].digest).toBeLessThan(40)
      expect(large[side].expand - small[side].expand).toBeLessThan(40)
    }
  })
})
