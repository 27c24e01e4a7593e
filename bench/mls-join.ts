// Measures what joining costs as the group grows: for the Nth member, the time from its hello to
// its first decrypted message over a real server, and the MLS costs behind it (commit and Welcome
// sizes and times, encrypt and decrypt). Run: bun bench/mls-join.ts [--sizes 2,50,200]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateCertificates } from '../apps/server/certs.ts'
import { startChatServer } from '../apps/server/server.ts'
import type { ChatEvent } from '../shared/client/events.ts'
import { createMemoryStores } from '../shared/client/memory-stores.ts'
import {
  applyCommit,
  commitChanges,
  createKeyPackage,
  decryptMessage,
  encryptMessage,
  foundGroup,
  joinFromWelcome,
  type SigningKeys,
} from '../shared/client/mls.ts'
import { type ChatSession, createChatSession } from '../shared/client/session.ts'
import { webSocketTransport } from '../shared/client/websocket-transport.ts'
import { createIdentityKeyPair } from '../shared/crypto/identity-key.ts'
import { createLimits } from '../shared/protocol/limits.ts'

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '2,50,200' } } })
const sizes = (values.sizes ?? '').split(',').map(Number)

const certDir = mkdtempSync(join(tmpdir(), 'chatbox-bench-'))
const paths = await generateCertificates({ dir: certDir })
const ca = readFileSync(paths.caCert, 'utf8')
const tls = {
  key: readFileSync(paths.serverKey, 'utf8'),
  cert: readFileSync(paths.serverCert, 'utf8'),
}

function member(server: ReturnType<typeof startChatServer>, name: string): ChatSession {
  return createChatSession({
    connect: webSocketTransport({ url: `wss://127.0.0.1:${server.webPort}/ws`, tls: { ca } }),
    name,
    stores: createMemoryStores(),
    reconnect: false,
  })
}

function nextEvent(session: ChatSession, test: (event: ChatEvent) => boolean): Promise<ChatEvent> {
  return new Promise((resolve) => {
    const off = session.on((event) => {
      if (test(event)) {
        off()
        resolve(event)
      }
    })
  })
}

/** The Nth member's hello → first decrypted message, in a room of N−1 (all but one offline). */
async function endToEndJoin(size: number): Promise<number> {
  const server = startChatServer({
    hostname: '127.0.0.1',
    webPort: 0,
    termPort: 0,
    tls,
    dataDir: ':memory:',
    // The bench's members join in bursts: lift the per-connection rate for them.
    limits: createLimits({
      rate: { perSecond: 10_000, burst: 10_000, strikes: 1_000 },
      // Every member is on 127.0.0.1: one address standing for many.
      addressRate: { perSecond: 1_000_000, burst: 1_000_000 },
      // Every member joins from this one address under a new name.
      nameRatePerAddress: { perSecond: 1_000_000, burst: 1_000_000 },
      maxConnectionsPerAddress: 1_000_000,
    }),
  })
  try {
    const founder = member(server, 'founder')
    await founder.connect()
    await founder.whenReady()
    // Everyone else joins at once (the committer adds them in a few batched commits), then goes
    // offline, so only the committer and the newcomer do work while the newcomer is timed.
    const others = Array.from({ length: size - 2 }, (_, index) => member(server, `member${index}`))
    await Promise.all(others.map((session) => session.connect().then(() => session.whenReady())))
    while ((await founder.members()).filter((m) => m.inGroup).length < size - 1) {
      await Bun.sleep(10)
    }
    await Promise.all(others.map((session) => session.close()))
    while (server.room.members().length > 1) await Bun.sleep(10)

    const newcomer = member(server, 'newcomer')
    const started = performance.now()
    const firstMessage = nextEvent(newcomer, (event) => event.type === 'message')
    await newcomer.connect()
    await newcomer.whenReady()
    await founder.sendText('welcome')
    await firstMessage
    const elapsed = performance.now() - started
    await newcomer.close()
    await founder.close()
    return elapsed
  } finally {
    await server.stop()
  }
}

async function signingKeys(name: string): Promise<SigningKeys> {
  const identity = await createIdentityKeyPair()
  return { name, signKey: identity.privateKeyBytes, publicKey: identity.publicKeyBytes }
}

/** MLS alone at group size N: adding the Nth member, and one message. */
async function mlsCosts(size: number) {
  const founderKeys = await createKeyPackage(await signingKeys('founder'))
  let founder = (await foundGroup(founderKeys)).state
  const bulk = await Promise.all(
    Array.from({ length: size - 2 }, async (_, index) =>
      createKeyPackage(await signingKeys(`member${index}`)),
    ),
  )
  const existingMember = await createKeyPackage(await signingKeys('witness'))
  const grown = await commitChanges(founder, {
    add: [...bulk, existingMember].map((kp) => kp.publicPackage),
    removeLeaves: [],
  })
  founder = grown.state
  let witness = await joinFromWelcome(grown.welcome as Uint8Array, existingMember)

  const newcomerKeys = await createKeyPackage(await signingKeys('newcomer'))
  let started = performance.now()
  const adding = await commitChanges(founder, {
    add: [newcomerKeys.publicPackage],
    removeLeaves: [],
  })
  const commitMs = performance.now() - started
  started = performance.now()
  const newcomer = await joinFromWelcome(adding.welcome as Uint8Array, newcomerKeys)
  const joinMs = performance.now() - started
  started = performance.now()
  witness = (await applyCommit(witness, adding.commit)).state
  const processMs = performance.now() - started

  const runs = 50
  let state = adding.state
  let reader = newcomer
  let encryptTotal = 0
  let decryptTotal = 0
  for (let index = 0; index < runs; index += 1) {
    const plaintext = new TextEncoder().encode(`message ${index} `.padEnd(64, '.'))
    let at = performance.now()
    const encrypted = await encryptMessage(state, plaintext)
    encryptTotal += performance.now() - at
    state = encrypted.state
    at = performance.now()
    reader = (await decryptMessage(reader, encrypted.ciphertext)).state
    decryptTotal += performance.now() - at
  }
  void witness
  return {
    commitBytes: adding.commit.length,
    welcomeBytes: adding.welcome?.length ?? 0,
    commitMs,
    joinMs,
    processMs,
    encryptMs: encryptTotal / runs,
    decryptMs: decryptTotal / runs,
  }
}

const rows: string[] = []
for (const size of sizes) {
  const joinMs = await endToEndJoin(size)
  const costs = await mlsCosts(size)
  rows.push(
    `| ${size} | ${joinMs.toFixed(0)} | ${costs.commitMs.toFixed(1)} | ${costs.joinMs.toFixed(1)} | ` +
      `${costs.processMs.toFixed(1)} | ${costs.commitBytes} | ${costs.welcomeBytes} | ` +
      `${costs.encryptMs.toFixed(2)} | ${costs.decryptMs.toFixed(2)} |`,
  )
  console.error(`size ${size} done`)
}
console.log(
  [
    '| Nth member | hello → first decrypted message (ms) | commit adding it (ms) | join from Welcome (ms) | others process the commit (ms each) | commit (bytes) | Welcome (bytes) | encrypt (ms) | decrypt (ms) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n'),
)
rmSync(certDir, { recursive: true, force: true })
process.exit(0)
