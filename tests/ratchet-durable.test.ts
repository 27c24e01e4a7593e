// A client that stops without warning (a crash, a killed tab, a power cut) must never encrypt two
// messages with the same ratchet generation: the same key and nonce on two plaintexts hands
// whoever holds both (the server) their XOR, and receivers, whose key for that generation is used
// up, could not read the second. What a crash leaves is what the stores held the moment the
// ciphertext left.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { decodeMlsMessage } from 'ts-mls'
import { decryptSenderData } from 'ts-mls/privateMessage.js'
import { createMemoryStores } from '../shared/client/memory-stores.ts'
import { cipherSuite, decodeState } from '../shared/client/mls.ts'
import type { ClientStores } from '../shared/client/stores.ts'
import type { ConnectTransport } from '../shared/client/transport.ts'
import { decodeBase64url } from '../shared/protocol/base64url.ts'
import { startEngineClient, startEngineSession, transportFor } from './support/engine.ts'
import { startTestServer, type TestServer } from './support/harness.ts'

// Real servers and real MLS on a shared two-core machine.
setDefaultTimeout(30_000)

/** A client's binary `app` frame: its tag, then the MLS ciphertext. */
const APP_TAG = 0x01

/** A link that keeps every `app` ciphertext it is given, and passes it on unless told to lose it. */
function recordingLink(server: TestServer) {
  const ciphertexts: Uint8Array[] = []
  const link = { lose: false }
  const connect: ConnectTransport = async (events) => {
    const inner = await transportFor(server, 'wss')(events)
    return {
      send(wire) {
        if (typeof wire !== 'string' && wire[0] === APP_TAG) {
          ciphertexts.push(wire.slice(1))
          if (link.lose) return
        }
        inner.send(wire)
      },
      close: () => inner.close(),
    }
  }
  return { connect, ciphertexts, link }
}

/** The stores a device would find on restart had it died right now: a copy of each, as it is. */
async function copyAsOfNow(stores: ClientStores): Promise<ClientStores> {
  const copy = createMemoryStores()
  const identity = await stores.identity.load()
  if (identity) await copy.identity.save(identity)
  for (const record of await stores.trust.list()) await copy.trust.put(record)
  const group = await stores.group.load()
  if (group) await copy.group.save(group)
  return copy
}

/** Which key and nonce a ciphertext used: its epoch, its sender's leaf and that leaf's generation. */
async function keyUsedBy(reader: ClientStores, ciphertext: Uint8Array): Promise<string> {
  const snapshot = await reader.group.load()
  if (!snapshot) throw new Error('the reader keeps no group')
  const state = decodeState(decodeBase64url(snapshot.state))
  const message = decodeMlsMessage(ciphertext, 0)?.[0]
  if (message?.wireformat !== 'mls_private_message') throw new Error('not a private message')
  const { privateMessage } = message
  const secret =
    privateMessage.epoch === state.groupContext.epoch
      ? state.keySchedule.senderDataSecret
      : state.historicalReceiverData.get(privateMessage.epoch)?.senderDataSecret
  if (!secret) throw new Error(`no sender data secret for epoch ${privateMessage.epoch}`)
  const senderData = await decryptSenderData(privateMessage, secret, await cipherSuite())
  if (!senderData) throw new Error('unreadable sender data')
  return `epoch ${privateMessage.epoch}, leaf ${senderData.leafIndex}, generation ${senderData.generation}`
}

describe('the ratchet on the device', () => {
  test('a message that left just before a crash is never followed by one in the same generation', async () => {
    await using server = await startTestServer()
    await using bob = await startEngineClient(server, 'bob', 'tls')
    const first = recordingLink(server)
    const alice = await startEngineSession(first.connect, 'alice')
    await alice.waitFor('membership', (event) => event.members.length === 2)

    // It leaves alice and is lost on the way (or the server keeps it and never logs it), and
    // alice's device dies right after: what is on it now is all the restart will have.
    first.link.lose = true
    await alice.session.sendText('lost with the crash')
    const lost = first.ciphertexts.at(-1) as Uint8Array
    const leftOnDevice = await copyAsOfNow(alice.stores)
    await alice.session.close()

    const second = recordingLink(server)
    await using restarted = await startEngineSession(second.connect, 'alice', {
      stores: leftOnDevice,
    })
    await restarted.session.sendText('the first after the restart')
    await bob.waitFor('message', (event) => event.text === 'the first after the restart')
    const next = second.ciphertexts.at(-1) as Uint8Array
    await bob.session.close()
    expect(await keyUsedBy(bob.stores, next)).not.toBe(await keyUsedBy(bob.stores, lost))
  })
})
