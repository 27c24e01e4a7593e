// What checking a commit costs the server's Delivery Service (shared/mls/commit-check.ts) as the
// group grows, next to what one member pays to process the same commit, measured in one run.
// Run: bun bench/commit-check.ts [--sizes 2,50,200] [--runs 20]

import { parseArgs } from 'node:util'
import {
  applyCommit,
  type ClientState,
  commitChanges,
  createKeyPackage,
  foundGroup,
  joinFromWelcome,
  membersOf,
  type SigningKeys,
} from '../shared/client/mls.ts'
import { createIdentityKeyPair } from '../shared/crypto/identity-key.ts'
import { checkCommit, checkKeyPackage } from '../shared/mls/commit-check.ts'
import type { PublicGroup } from '../shared/mls/public-group.ts'
import { encodeBase64url } from '../shared/protocol/base64url.ts'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '2,50,200' },
    runs: { type: 'string', default: '20' },
  },
})
const sizes = (values.sizes ?? '').split(',').map(Number)
const runs = Number(values.runs)

async function keysFor(name: string): Promise<SigningKeys> {
  const identity = await createIdentityKeyPair()
  return { name, signKey: identity.privateKeyBytes, publicKey: identity.publicKeyBytes }
}

function publicView(state: ClientState): PublicGroup {
  return {
    context: state.groupContext,
    tree: state.ratchetTree,
    confirmationTag: state.confirmationTag,
  }
}

/** Mean milliseconds of `step` over `runs` runs, after one to warm up. */
async function mean(step: () => Promise<unknown>): Promise<number> {
  await step()
  const started = performance.now()
  for (let run = 0; run < runs; run += 1) await step()
  return (performance.now() - started) / runs
}

async function costsAt(size: number) {
  const founderKeys = await keysFor('founder')
  let founder = (await foundGroup(await createKeyPackage(founderKeys))).state
  const bulk = await Promise.all(
    Array.from({ length: size - 2 }, async (_, index) =>
      createKeyPackage(await keysFor(`member${index}`)),
    ),
  )
  const witnessKeys = await keysFor('witness')
  const witnessPackage = await createKeyPackage(witnessKeys)
  const grown = await commitChanges(founder, {
    add: [...bulk, witnessPackage].map((item) => item.publicPackage),
    removeLeaves: [],
  })
  founder = grown.state
  const witness = await joinFromWelcome(grown.welcome as Uint8Array, witnessPackage)
  const view = publicView(founder)
  const committer = { name: 'founder', identityKey: encodeBase64url(founderKeys.publicKey) }

  // Adding the Nth member: an add-only commit, no update path.
  const newcomerKeys = await keysFor('newcomer')
  const newcomer = await createKeyPackage(newcomerKeys)
  const checkedPackage = await checkKeyPackage(newcomer.encoded, {
    name: 'newcomer',
    identityKey: encodeBase64url(newcomerKeys.publicKey),
  })
  if (!checkedPackage.ok) throw new Error(checkedPackage.message)
  const adding = await commitChanges(founder, { add: [newcomer.publicPackage], removeLeaves: [] })
  const addClaims = {
    committer,
    adds: [
      {
        name: 'newcomer',
        identityKey: encodeBase64url(newcomerKeys.publicKey),
        keyPackage: checkedPackage.value.encoded,
      },
    ],
    removes: [],
  }
  const verdict = await checkCommit(view, adding.commit, addClaims)
  if (!verdict.ok) throw new Error(verdict.message)
  const checkAdd = await mean(() => checkCommit(view, adding.commit, addClaims))
  const processAdd = await mean(() => applyCommit(witness, adding.commit))

  // Removing a member: the commit carries an update path, which is checked too.
  const removed = membersOf(founder).find(
    (leaf) => leaf.name === 'member0' || leaf.name === 'witness',
  )
  const removing = await commitChanges(founder, {
    add: [],
    removeLeaves: [removed?.leafIndex as number],
  })
  const removeClaims = { committer, adds: [], removes: [removed?.name as string] }
  const removal = await checkCommit(view, removing.commit, removeClaims)
  if (!removal.ok) throw new Error(removal.message)
  const checkRemove = await mean(() => checkCommit(view, removing.commit, removeClaims))
  const processRemove =
    removed?.name === 'witness'
      ? Number.NaN
      : await mean(() => applyCommit(witness, removing.commit))
  return { checkAdd, processAdd, checkRemove, processRemove }
}

const rows: string[] = []
for (const size of sizes) {
  const costs = await costsAt(size)
  const micro = (ms: number) =>
    Number.isNaN(ms) ? '–' : Math.round(ms * 1000).toLocaleString('en')
  const ratio = (a: number, b: number) => (Number.isNaN(b) ? '–' : `${(a / b).toFixed(2)}×`)
  rows.push(
    `| ${size} | ${micro(costs.checkAdd)} | ${micro(costs.processAdd)} | ${ratio(costs.checkAdd, costs.processAdd)} | ` +
      `${micro(costs.checkRemove)} | ${micro(costs.processRemove)} | ${ratio(costs.checkRemove, costs.processRemove)} |`,
  )
  console.error(`size ${size} done`)
}
console.log(
  [
    `| group size | server checks an add (µs) | a member processes it (µs) | check ÷ process | server checks a remove (µs) | a member processes it (µs) | check ÷ process |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n'),
)
