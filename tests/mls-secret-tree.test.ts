// The secret tree each member keeps (RFC 9420 §9), which the patched ts-mls derives lazily: no
// secret in it may ever be the zero bytes ts-mls leaves behind when it wipes an epoch's
// encryption secret, and a saved state must read the same messages after it is loaded.
import { describe, expect, test } from 'bun:test'
import type { ClientState } from 'ts-mls'
import {
  applyCommit,
  commitChanges,
  decodeState,
  decryptMessage,
  encodeState,
  encryptMessage,
  foundGroup,
  joinFromWelcome,
} from '../shared/client/mls.ts'
import { freshKeyPackage } from './support/mls-member.ts'

const keyPackage = freshKeyPackage

/** Every secret the state's current and retained secret trees hold. */
function treeSecrets(state: ClientState): Uint8Array[] {
  const trees = [
    state.secretTree,
    ...[...state.historicalReceiverData.values()].map((epoch) => epoch.secretTree),
  ]
  return trees.flatMap((tree) =>
    tree.flatMap((entry) => {
      if (entry === undefined) return []
      if (entry instanceof Uint8Array) return [entry]
      return [entry.handshake, entry.application].flatMap((ratchet) => [
        ratchet.secret,
        ...Object.values(ratchet.unusedGenerations),
      ])
    }),
  )
}

const isZero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0)

const text = (value: string) => new TextEncoder().encode(value)

describe('the secret tree a member keeps', () => {
  test('holds no wiped (all-zero) secret after a commit, a Welcome or a message', async () => {
    const [founderKeys, aliceKeys, bobKeys] = await Promise.all(
      ['founder', 'alice', 'bobby'].map(keyPackage),
    )
    if (!founderKeys || !aliceKeys || !bobKeys) throw new Error('no key packages')
    let founder = (await foundGroup(founderKeys)).state
    const first = await commitChanges(founder, { add: [aliceKeys.publicPackage], removeLeaves: [] })
    founder = first.state
    let alice = await joinFromWelcome(first.welcome as Uint8Array, aliceKeys)
    const second = await commitChanges(founder, { add: [bobKeys.publicPackage], removeLeaves: [] })
    founder = second.state
    alice = (await applyCommit(alice, second.commit)).state
    let bob = await joinFromWelcome(second.welcome as Uint8Array, bobKeys)
    for (const state of [founder, alice, bob]) {
      expect(treeSecrets(state).length).toBeGreaterThan(0)
      expect(treeSecrets(state).filter(isZero)).toEqual([])
    }
    const sent = await encryptMessage(alice, text('after two commits'))
    alice = sent.state
    bob = (await decryptMessage(bob, sent.ciphertext)).state
    for (const state of [alice, bob]) expect(treeSecrets(state).filter(isZero)).toEqual([])
  })

  test('reads the same messages after its state is saved and loaded', async () => {
    const [founderKeys, aliceKeys, bobKeys] = await Promise.all(
      ['founder', 'alice', 'bobby'].map(keyPackage),
    )
    if (!founderKeys || !aliceKeys || !bobKeys) throw new Error('no key packages')
    const grown = await commitChanges((await foundGroup(founderKeys)).state, {
      add: [aliceKeys.publicPackage, bobKeys.publicPackage],
      removeLeaves: [],
    })
    let founder = grown.state
    let alice = await joinFromWelcome(grown.welcome as Uint8Array, aliceKeys)
    let bob = await joinFromWelcome(grown.welcome as Uint8Array, bobKeys)
    // Alice has read the founder, so her saved tree holds one leaf expanded and the rest not.
    const fromFounder = await encryptMessage(founder, text('first'))
    founder = fromFounder.state
    alice = (await decryptMessage(alice, fromFounder.ciphertext)).state
    alice = decodeState(encodeState(alice))
    const fromBob = await encryptMessage(bob, text('second, from a leaf not yet expanded'))
    bob = fromBob.state
    const read = await decryptMessage(alice, fromBob.ciphertext)
    expect(new TextDecoder().decode(read.plaintext)).toBe('second, from a leaf not yet expanded')
    expect(read.sender.name).toBe('bobby')
  })
})
