// The IETF interoperability vectors (mls-implementations, "passive client" scenarios) run
// against the pinned ts-mls for ciphersuite 1: join from another implementation's Welcome, then
// process its proposals and commits, matching every epoch authenticator.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import {
  bytesToBase64,
  type ClientState,
  decodeMlsMessage,
  getCiphersuiteImpl,
  joinGroup,
  makePskIndex,
  processPrivateMessage,
  processPublicMessage,
} from 'ts-mls'
import { getCiphersuiteFromId } from 'ts-mls/crypto/ciphersuite.js'
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js'
import * as v from 'valibot'
import { CIPHERSUITE_NAME } from '../shared/client/mls.ts'
import { Hex, hex, SUITE_ID, suiteVectors, vectorsPresent } from './support/mls-vectors.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const FILES = ['passive-client-welcome', 'passive-client-handling-commit', 'passive-client-random']

const ScenarioSchema = v.object({
  cipher_suite: v.number(),
  external_psks: v.array(v.object({ psk_id: Hex, psk: Hex })),
  key_package: Hex,
  signature_priv: Hex,
  encryption_priv: Hex,
  init_priv: Hex,
  welcome: Hex,
  ratchet_tree: v.nullable(Hex),
  initial_epoch_authenticator: Hex,
  epochs: v.array(v.object({ proposals: v.array(Hex), commit: Hex, epoch_authenticator: Hex })),
})
type Scenario = v.InferOutput<typeof ScenarioSchema>

const present = vectorsPresent(FILES)

async function playScenario(scenario: Scenario): Promise<void> {
  const impl = await getCiphersuiteImpl(getCiphersuiteFromId(SUITE_ID))
  const keyPackage = decodeMlsMessage(hex(scenario.key_package), 0)?.[0]
  const welcome = decodeMlsMessage(hex(scenario.welcome), 0)?.[0]
  if (keyPackage?.wireformat !== 'mls_key_package') throw new Error('no KeyPackage')
  if (welcome?.wireformat !== 'mls_welcome') throw new Error('no Welcome')
  const psks = Object.fromEntries(
    scenario.external_psks.map((psk) => [bytesToBase64(hex(psk.psk_id)), hex(psk.psk)]),
  )
  const tree = scenario.ratchet_tree
    ? decodeRatchetTree(hex(scenario.ratchet_tree), 0)?.[0]
    : undefined
  let state: ClientState = await joinGroup(
    welcome.welcome,
    keyPackage.keyPackage,
    {
      hpkePrivateKey: hex(scenario.encryption_priv),
      initPrivateKey: hex(scenario.init_priv),
      signaturePrivateKey: hex(scenario.signature_priv),
    },
    makePskIndex(undefined, psks),
    impl,
    tree,
  )
  expect(state.keySchedule.epochAuthenticator).toEqual(hex(scenario.initial_epoch_authenticator))
  for (const epoch of scenario.epochs) {
    for (const message of [...epoch.proposals, epoch.commit]) {
      const decoded = decodeMlsMessage(hex(message), 0)?.[0]
      if (decoded?.wireformat === 'mls_private_message') {
        state = (
          await processPrivateMessage(
            state,
            decoded.privateMessage,
            makePskIndex(state, psks),
            impl,
          )
        ).newState
      } else if (decoded?.wireformat === 'mls_public_message') {
        state = (
          await processPublicMessage(state, decoded.publicMessage, makePskIndex(state, psks), impl)
        ).newState
      } else {
        throw new Error('a handshake message that is neither private nor public')
      }
    }
    expect(state.keySchedule.epochAuthenticator).toEqual(hex(epoch.epoch_authenticator))
  }
}

describe.skipIf(!present)('IETF MLS interop vectors, ciphersuite 1', () => {
  test('the suite under test is ciphersuite 1', () => {
    expect(getCiphersuiteFromId(SUITE_ID).name).toBe(CIPHERSUITE_NAME)
  })

  for (const file of FILES) {
    test(`every ${file} scenario for suite 1 joins and tracks each epoch`, async () => {
      const scenarios = suiteVectors(file, ScenarioSchema)
      expect(scenarios.length).toBeGreaterThan(0)
      for (const scenario of scenarios) await playScenario(scenario)
    }, 120_000)
  }
})
