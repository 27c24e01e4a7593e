// Measures what joining costs as the group grows: for the Nth member, the time from its hello to
// its first decrypted message over a real server, and the MLS costs behind it (commit and Welcome
// sizes and times, encrypt), with each member's commit cost against log₂ N.
// Run: bun bench/mls-join.ts [--full] [--sizes 200,500] [--repeats 5] [--mls-only]
// (CHATBOX_BENCH_PHASES=1 also prints when the room was built and the newcomer's phases, with
// epoch times to give bench/profile-summary.ts a window.)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
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
import { createIdentityKeyPair, signWithIdentity } from '../shared/crypto/identity-key.ts'
import { encodeBase64url } from '../shared/protocol/base64url.ts'
import { authMessage, type ServerFrame } from '../shared/protocol/frames.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { connectTls, quietEventLog, type ServerAddress } from '../tests/support/harness.ts'
import { median } from './report.ts'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string' },
    full: { type: 'boolean', default: false },
    'mls-only': { type: 'boolean', default: false },
    repeats: { type: 'string', default: '5' },
  },
})
// Up to 1,000 members by default, 2,000 with --full: enough to show growth against log₂ N.
const sizes = (values.sizes ?? (values.full ? '200,500,1000,2000' : '200,500,1000'))
  .split(',')
  .map(Number)
const REPEATS = Number(values.repeats)

const certDir = mkdtempSync(joinPath(tmpdir(), 'chatbox-bench-'))
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

/**
 * One of the N−2 members already in the room, as a bare protocol client: hello, auth, its
 * KeyPackage, then gone once the founder's commit added it (the Welcome is its signal). It never
 * reads the Welcome: building the room costs the founder's commits, not N joins.
 */
async function bulkMember(server: ServerAddress, name: string): Promise<void> {
  const client = await connectTls(server)
  // The server is busy with the founder's commits while hundreds join: wait a minute, not 5 s.
  const take = <T extends ServerFrame['type']>(type: T) =>
    client.inbox.take(type, () => true, 60_000)
  const identity = await createIdentityKeyPair()
  client.send({ type: 'hello', name, identityKey: identity.publicKeyText })
  const { nonce } = await take('challenge')
  client.send({
    type: 'auth',
    signature: await signWithIdentity(identity, authMessage(nonce, name)),
  })
  await take('ready')
  const own = await createKeyPackage({
    name,
    signKey: identity.privateKeyBytes,
    publicKey: identity.publicKeyBytes,
  })
  client.send({ type: 'key-package', keyPackage: encodeBase64url(own.encoded) })
  await take('welcome')
  client.close()
  await client.closed
}

/** Runs the jobs at most `width` at a time, so a thousand TLS handshakes do not queue at once. */
async function inWaves(count: number, width: number, job: (index: number) => Promise<void>) {
  let next = 0
  const lane = async () => {
    for (let index = next++; index < count; index = next++) await job(index)
  }
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane))
}

/**
 * The Nth member's hello → first decrypted message, in a room of N−1 (all but one offline); then
 * it leaves (/quit), and the founder's commit removing it is made, accepted and processed.
 */
async function endToEndJoin(size: number): Promise<{ joinMs: number; removeMs: number }> {
  const server = startChatServer({
    hostname: '127.0.0.1',
    webPort: 0,
    termPort: 0,
    tls,
    dataDir: ':memory:',
    eventLog: quietEventLog(),
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
  const address: ServerAddress = {
    ca,
    termPort: server.termPort,
    wsUrl: `wss://127.0.0.1:${server.webPort}/ws`,
  }
  try {
    const founder = member(server, 'founder')
    await founder.connect()
    await founder.whenReady()
    // The others join 50 at a time (the founder adds them in batched commits) and leave, so only
    // the founder and the newcomer do work while the newcomer is timed.
    await inWaves(size - 2, 50, (index) => bulkMember(address, `member${index}`))
    if (process.env.CHATBOX_BENCH_PHASES) console.error(`room built at ${Date.now()}`)

    const newcomer = member(server, 'newcomer')
    const started = performance.now()
    const firstMessage = nextEvent(newcomer, (event) => event.type === 'message')
    await newcomer.connect()
    const connectedMs = performance.now() - started
    await newcomer.whenReady()
    if (process.env.CHATBOX_BENCH_PHASES) {
      console.error(
        `phases: connected ${connectedMs.toFixed(0)} ms, in the group ${(performance.now() - started).toFixed(0)} ms, at ${Date.now()}`,
      )
    }
    await founder.sendText('welcome')
    await firstMessage
    const joinMs = performance.now() - started
    const removed = nextEvent(
      founder,
      (event) => event.type === 'membership' && event.removed.includes('newcomer'),
    )
    const leaving = performance.now()
    await newcomer.leave()
    await removed
    const removeMs = performance.now() - leaving
    await founder.close()
    return { joinMs, removeMs }
  } finally {
    await server.stop()
  }
}

async function signingKeys(name: string): Promise<SigningKeys> {
  const identity = await createIdentityKeyPair()
  return { name, signKey: identity.privateKeyBytes, publicKey: identity.publicKeyBytes }
}

/**
 * MLS alone at group size N, in one process: the committer adds one newcomer at a time (REPEATS
 * times, so the group goes N → N+REPEATS−1), an existing member processes each commit, and each
 * newcomer joins from its Welcome and reads a first message.
 */
async function mlsCosts(size: number) {
  const founderKeys = await createKeyPackage(await signingKeys('founder'))
  let founder = (await foundGroup(founderKeys)).state
  const bulk = await Promise.all(
    Array.from({ length: size - 2 }, async (_, index) =>
      createKeyPackage(await signingKeys(`member${index}`)),
    ),
  )
  const witnessKeys = await createKeyPackage(await signingKeys('witness'))
  let started = performance.now()
  const grown = await commitChanges(founder, {
    add: [...bulk, witnessKeys].map((kp) => kp.publicPackage),
    removeLeaves: [],
  })
  const buildMs = performance.now() - started
  founder = grown.state
  let witness = await joinFromWelcome(grown.welcome as Uint8Array, witnessKeys)

  const commitMs: number[] = []
  const processMs: number[] = []
  const welcomeToMessageMs: number[] = []
  let commitBytes = 0
  let welcomeBytes = 0
  for (let round = 0; round < REPEATS; round += 1) {
    const newcomerKeys = await createKeyPackage(await signingKeys(`newcomer${round}`))
    started = performance.now()
    const adding = await commitChanges(founder, {
      add: [newcomerKeys.publicPackage],
      removeLeaves: [],
    })
    commitMs.push(performance.now() - started)
    founder = adding.state
    started = performance.now()
    witness = (await applyCommit(witness, adding.commit)).state
    processMs.push(performance.now() - started)
    const first = await encryptMessage(founder, new TextEncoder().encode('welcome'))
    founder = first.state
    started = performance.now()
    const newcomer = await joinFromWelcome(adding.welcome as Uint8Array, newcomerKeys)
    await decryptMessage(newcomer, first.ciphertext)
    welcomeToMessageMs.push(performance.now() - started)
    commitBytes = adding.commit.length
    welcomeBytes = adding.welcome?.length ?? 0
  }

  const runs = 50
  let encryptTotal = 0
  for (let index = 0; index < runs; index += 1) {
    const plaintext = new TextEncoder().encode(`message ${index} `.padEnd(64, '.'))
    const at = performance.now()
    founder = (await encryptMessage(founder, plaintext)).state
    encryptTotal += performance.now() - at
  }
  return {
    buildMs,
    commitBytes,
    welcomeBytes,
    commitMs: median(commitMs),
    processMs: median(processMs),
    welcomeToMessageMs: median(welcomeToMessageMs),
    encryptMs: encryptTotal / runs,
  }
}

const mlsRows: string[] = []
const joinRows: string[] = []
for (const size of sizes) {
  const costs = await mlsCosts(size)
  const log = Math.log2(size)
  mlsRows.push(
    `| ${size} | ${costs.processMs.toFixed(1)} | ${costs.commitMs.toFixed(1)} | ` +
      `${(costs.processMs / log).toFixed(2)} | ${(costs.commitMs / log).toFixed(2)} | ` +
      `${costs.welcomeToMessageMs.toFixed(0)} | ${costs.commitBytes} | ${costs.welcomeBytes} | ` +
      `${costs.encryptMs.toFixed(2)} | ${(costs.buildMs / 1000).toFixed(1)} |`,
  )
  console.error(`size ${size}: MLS costs done`)
  if (!values['mls-only']) {
    const { joinMs, removeMs } = await endToEndJoin(size)
    joinRows.push(`| ${size} | ${joinMs.toFixed(0)} | ${removeMs.toFixed(0)} |`)
    console.error(`size ${size}: end-to-end join done`)
  }
}
console.log(
  [
    `MLS alone, one process, medians of ${REPEATS} one-newcomer adds:`,
    '',
    '| N | a member processes the add (ms) | committer makes it (ms) | process ÷ log₂ N | make ÷ log₂ N | newcomer: Welcome → first message read (ms) | commit (bytes) | Welcome (bytes) | encrypt (ms) | building the group (s) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...mlsRows,
  ].join('\n'),
)
if (joinRows.length > 0) {
  console.log(
    [
      '',
      'Over a real server (WebSocket, TLS), the Nth member joins, reads, and leaves:',
      '',
      '| N | hello → first decrypted message (ms) | /quit → the founder has removed it (ms) |',
      '| ---: | ---: | ---: |',
      ...joinRows,
    ].join('\n'),
  )
}
rmSync(certDir, { recursive: true, force: true })
process.exit(0)
