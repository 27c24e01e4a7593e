// `bun run demo`: a server, two scripted clients and taps on loopback, then what the wire, the
// server's disk and the clients each hold, so both layers (TLS 1.3 and MLS) can be seen working.
import { Database } from 'bun:sqlite'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateCertificates } from '../apps/server/certs.ts'
import { startChatServer } from '../apps/server/server.ts'
import type { FileEvent, MessageEvent } from '../shared/client/events.ts'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import { webSocketTransport } from '../shared/client/websocket-transport.ts'
import { wireOfBody } from '../shared/protocol/binary.ts'
import type { WireFrame } from '../shared/protocol/codec.ts'
import { createFrameDecoder } from '../shared/protocol/framing.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { startEngineSession } from '../tests/support/engine.ts'
import { type Capture, startCapture } from '../tests/support/packet-capture.ts'
import {
  decodedFields,
  hexHead,
  occurring,
  shorten,
  shortenFields,
} from '../tests/support/show-bytes.ts'
import { joinBytes, type Recorded, startTap } from '../tests/support/tap.ts'
import {
  APPLICATION_DATA,
  recordTypeName,
  serverHello,
  tlsRecords,
} from '../tests/support/tls-records.ts'
import { frameText } from '../tests/support/wire.ts'

const MESSAGE = 'The vault code is 7-4-1-9; tell nobody.'
const FILE_NAME = 'merger-plans.txt'
const FILE_TEXT = 'Project Heron: we buy ACME on Friday at 9:00.\nKeep this between us.\n'
/** What must never appear outside the two clients. */
const SECRETS = [MESSAGE, '7-4-1-9', FILE_NAME, 'merger-plans', FILE_TEXT, 'Project Heron', 'ACME']

const utf8 = new TextEncoder()
const failures: string[] = []

function check(ok: boolean, what: string): void {
  if (!ok) failures.push(what)
}

function foundOrNot(found: readonly string[]): string {
  return found.length === 0 ? 'none found' : `FOUND ${found.join(', ')}`
}

const number = (value: number) => value.toLocaleString('en-US')

/** Which of the secrets occur in these bytes. */
const secretsIn = (bytes: Uint8Array) => occurring(SECRETS, bytes)

// ---- (a) the wire ---------------------------------------------------------------------------

function describeWire(label: string, recorded: Recorded): string[] {
  const up = joinBytes(recorded.up)
  const down = joinBytes(recorded.down)
  const sent = tlsRecords(up)
  const received = tlsRecords(down)
  const hello = serverHello(received[0])
  const firstApp = received.find((record) => record.type === APPLICATION_DATA)
  const counts = new Map<string, number>()
  for (const record of [...sent, ...received]) {
    const name = recordTypeName(record.type)
    counts.set(name, (counts.get(name) ?? 0) + 1)
  }
  const found = secretsIn(joinBytes([up, down]))
  check(hello.version.startsWith('1.3'), `${label}: TLS 1.3 was not negotiated`)
  check(found.length === 0, `${label}: the wire carried ${found.join(', ')}`)
  const inTheClear = Buffer.from(joinBytes([up, down])).includes('"type"')
  check(!inTheClear, `${label}: protocol JSON crossed the wire in the clear`)
  const empty = new Uint8Array()
  return [
    `  ${label}: ${number(up.length + down.length)} bytes in ${sent.length + received.length} ` +
      `TLS records (${[...counts].map(([name, count]) => `${name} ×${count}`).join(', ')})`,
    `    → ${hexHead(sent[0]?.bytes ?? empty)}  ClientHello`,
    `    ← ${hexHead(received[0]?.bytes ?? empty)}  ServerHello: TLS ${hello.version}, ${hello.suite}`,
    `    ← ${hexHead(firstApp?.bytes ?? empty)}  application_data: encrypted from here on`,
    `    message, file name, file text or any JSON in these bytes: ${foundOrNot(
      inTheClear ? [...found, 'JSON'] : found,
    )}`,
  ]
}

/** `seen`: bytes a tap recorded, which the capture must hold too if it saw the traffic. */
async function describeCapture(capture: Capture, seen: Uint8Array): Promise<string[]> {
  const { packets, bytes: pcap } = await capture.stop()
  const secrets = secretsIn(pcap)
  check(secrets.length === 0, `the ${capture.tool} capture holds ${secrets.join(', ')}`)
  const json = Buffer.from(pcap).includes('"type"') ? ['JSON'] : []
  check(json.length === 0, `the ${capture.tool} capture holds protocol JSON`)
  const saw = Buffer.from(pcap).includes(Buffer.from(seen))
  check(saw, `the ${capture.tool} capture missed the traffic the taps recorded`)
  return [
    `  ${capture.tool} on lo: ${packets} packets, ${number(pcap.length)} bytes captured; ` +
      `it holds the ClientHello the tap below recorded: ${saw ? 'yes' : 'NO'}`,
    `    message, file name, file text or any JSON in the capture: ${foundOrNot([
      ...secrets,
      ...json,
    ])}`,
  ]
}

/**
 * Length-prefixed frames out of a decrypted raw-TLS stream, each as JSON text (frameText), a binary
 * one with its size on the wire.
 */
function framesOf(chunks: readonly Uint8Array[], from: 'client' | 'server'): string[] {
  const decoder = createFrameDecoder(1 << 26)
  return chunks.flatMap((chunk) =>
    decoder.push(chunk).frames.map((body) => {
      const wire = wireOfBody(body)
      const shown = frameText(wire, from)
      return typeof wire === 'string' ? shown : `${shown} (binary, ${number(wire.length)} bytes)`
    }),
  )
}

function describeRelay(recorded: Recorded): string[] {
  const up = framesOf(recorded.up, 'client')
  const down = framesOf(recorded.down, 'server')
  const decrypted = joinBytes(recorded.both)
  const found = secretsIn(joinBytes([decrypted, decodedFields([...up, ...down])]))
  check(found.length === 0, `the relay read ${found.join(', ')}`)
  check(
    down.some((frame) => frame.includes('"type":"app"')),
    'the relay saw no app frame',
  )
  const shown = [
    ...up.filter((frame) => /"type":"(hello|app)"/.test(frame)).map((frame) => `→ ${frame}`),
    ...down.filter((frame) => frame.includes('"type":"app"')).map((frame) => `← ${frame}`),
  ]
  return [
    '  what a relay holding the server’s certificate (as if TLS were broken) reads on bob’s ' +
      'link: JSON frames, and MLS messages as binary ones (shown decoded)',
    ...shown.map((frame) => `    ${shortenFields(frame)}`),
    `    message, file name or file text in all ${up.length + down.length} frames ` +
      `(${number(decrypted.length)} bytes, base64url fields decoded too): ` +
      foundOrNot(found),
  ]
}

// ---- (b) the server -------------------------------------------------------------------------

/** What the stopped server left in its data directory. */
function describeServer(dataDir: string): string[] {
  // Searched before SQLite opens the file again (a reader makes its -wal and -shm files anew).
  const files = readdirSync(dataDir)
  const disk = joinBytes(files.map((name) => new Uint8Array(readFileSync(join(dataDir, name)))))
  const diskSecrets = secretsIn(disk)
  using db = new Database(join(dataDir, 'chatbox.sqlite'), { readonly: true })
  const names = db
    .query<{ name: string; identity_key: string }, []>(
      'SELECT name, identity_key FROM identities ORDER BY bound_at, name',
    )
    .all()
  const group = db
    .query<{ group_id: string; epoch: number; roster: string }, []>(
      'SELECT group_id, epoch, roster FROM mls_group',
    )
    .get()
  const log = db
    .query<{ seq: number; frame: WireFrame }, []>('SELECT seq, frame FROM log')
    .all()
    .map((row) => ({ seq: row.seq, frame: frameText(row.frame, 'server') }))
  const logSecrets = secretsIn(decodedFields(log.map((row) => row.frame)))
  check(log.length > 0 && names.length === 2, 'the server did not log the room')
  check(diskSecrets.length === 0, `the data directory holds ${diskSecrets.join(', ')}`)
  check(logSecrets.length === 0, `the log's decoded fields hold ${logSecrets.join(', ')}`)
  return [
    ...names.map(
      (row) => `  name ${row.name.padEnd(6)} bound to identity key ${shorten(row.identity_key)}`,
    ),
    ...(group
      ? [`  MLS group ${group.group_id}, epoch ${group.epoch}, roster ${group.roster}`]
      : []),
    ...log.map((row) => `  log #${row.seq} ${shortenFields(row.frame)}`),
    `  message, file name or file text anywhere in the data directory (${files.join(', ')}, ` +
      `${number(disk.length)} bytes): ${foundOrNot(diskSecrets)}`,
    `  … in the log's base64url fields, decoded: ${foundOrNot(logSecrets)}`,
  ]
}

// ---- (c) the clients ------------------------------------------------------------------------

interface ClientsHold {
  readonly message: MessageEvent
  readonly file: FileEvent
  /** Alice's key as bob's engine holds it, and bob's as alice's does. */
  readonly aliceKey: string | undefined
  readonly bobKey: string | undefined
  readonly roomCodes: readonly (string | undefined)[]
}

function describeClients({ message, file, aliceKey, bobKey, roomCodes }: ClientsHold): string[] {
  const text = new TextDecoder().decode(file.bytes)
  check(
    message.text === MESSAGE && message.from === 'alice' && !message.claimedBy,
    'bob did not read alice’s message as sent',
  )
  check(
    text === FILE_TEXT && file.name === FILE_NAME && file.from === 'bob' && !file.claimedBy,
    'alice did not read bob’s file as sent',
  )
  check(roomCodes[0] !== undefined && roomCodes[0] === roomCodes[1], 'the room codes differ')
  return [
    `  bob sees    ${message.from}: ${message.text}`,
    `              signed by alice's key ${aliceKey?.slice(0, 19)} …; the ` +
      `server's claim ${message.claimedBy ? `(${message.claimedBy}) differs` : 'agrees'}`,
    `  alice sees  ${file.from} sent ${file.name} ` +
      `(${file.size} bytes, sha256 ${file.sha256.slice(0, 12)}…)`,
    ...text
      .trimEnd()
      .split('\n')
      .map((line) => `              | ${line}`),
    `              signed by bob's key ${bobKey?.slice(0, 19)} …; the server's ` +
      `claim ${file.claimedBy ? `(${file.claimedBy}) differs` : 'agrees'}`,
    `  room code   alice ${roomCodes[0]}, bob ${roomCodes[1]}`,
  ]
}

// ---- the run -------------------------------------------------------------------------------

function print(lines: readonly string[]): void {
  for (const line of lines) console.log(line)
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-demo-'))
  const cleanups: Array<() => unknown> = [() => rmSync(dir, { recursive: true, force: true })]
  try {
    const paths = await generateCertificates({ dir: join(dir, 'certs') })
    const ca = readFileSync(paths.caCert, 'utf8')
    const tls = {
      key: readFileSync(paths.serverKey, 'utf8'),
      cert: readFileSync(paths.serverCert, 'utf8'),
    }
    const dataDir = join(dir, 'data')
    const server = startChatServer({
      hostname: '127.0.0.1',
      webPort: 0,
      termPort: 0,
      tls,
      dataDir,
      limits: createLimits(),
    })
    let serverStopped = false
    const stopServer = async () => {
      if (serverStopped) return
      serverStopped = true
      await server.stop()
    }
    cleanups.unshift(stopServer)

    // alice → web tap → server's WSS port; bob → terminal tap → TLS-terminating relay → TLS port.
    const relay = startTap({ port: server.termPort, tls: { ...tls, ca } })
    const termTap = startTap({ port: relay.port })
    const webTap = startTap({ port: server.webPort })
    cleanups.unshift(relay.stop, termTap.stop, webTap.stop)
    const ports = [server.webPort, server.termPort, relay.port, termTap.port, webTap.port]
    const capture = await startCapture(dir, ports)

    console.log('chatbox wire demonstration')
    console.log(`  server   127.0.0.1:${server.webPort} (WSS) and :${server.termPort} (raw TLS)`)
    console.log('  alice    engine over WSS, through a TCP tap')
    console.log('  bob      engine over raw TLS, through a TCP tap and a TLS-terminating relay')
    console.log(
      `  capture  ${typeof capture === 'string' ? capture : `${capture.tool} on loopback`}`,
    )

    const alice = await startEngineSession(
      webSocketTransport({ url: `wss://127.0.0.1:${webTap.port}/ws`, tls: { ca } }),
      'alice',
    )
    const bob = await startEngineSession(
      tlsTransport({ hostname: '127.0.0.1', port: termTap.port, ca, serverName: 'localhost' }),
      'bob',
    )
    await alice.waitFor('membership', (event) => event.members.includes('bob'))
    await alice.session.sendText(MESSAGE)
    const message = await bob.waitFor('message', (event) => !event.own)
    await bob.session.sendFile({ name: FILE_NAME, bytes: utf8.encode(FILE_TEXT) })
    const file = await alice.waitFor('file', (event) => !event.own)
    const clients: ClientsHold = {
      message,
      file,
      aliceKey: (await bob.session.members()).find((m) => m.name === 'alice')?.fingerprint,
      bobKey: (await alice.session.members()).find((m) => m.name === 'bob')?.fingerprint,
      roomCodes: [await alice.session.roomCode(), await bob.session.roomCode()],
    }
    await Promise.all([alice.session.close(), bob.session.close()])
    const captured =
      typeof capture === 'string'
        ? []
        : await describeCapture(capture, joinBytes(termTap.recorded.up).subarray(0, 64))
    await stopServer()

    console.log('')
    console.log(`alice sends a message, ${JSON.stringify(MESSAGE)}`)
    console.log(`bob sends a file, ${FILE_NAME} (${FILE_TEXT.length} bytes)`)

    console.log('')
    console.log('(a) What an eavesdropper on the sockets captures')
    print(captured)
    print(describeWire('alice ⇄ server (WSS)', webTap.recorded))
    print(describeWire('bob ⇄ server (raw TLS)', termTap.recorded))
    print(describeRelay(relay.recorded))

    console.log('')
    console.log('(b) What the server holds (chatbox.sqlite, read after it stopped)')
    print(describeServer(dataDir))

    console.log('')
    console.log('(c) What the clients show (decrypted; the sender is the one MLS authenticated)')
    print(describeClients(clients))

    console.log('')
    if (failures.length > 0) {
      for (const failure of failures) console.log(`FAILED: ${failure}`)
      process.exitCode = 1
      return
    }
    console.log(
      'Both layers held: TLS 1.3 on both clients’ sockets, and MLS ciphertext is all the ' +
        'server (or anyone who breaks TLS) ever holds.',
    )
  } finally {
    for (const cleanup of cleanups) {
      try {
        await cleanup()
      } catch {
        // Cleaning up after a failure must not hide the failure.
      }
    }
  }
}

await main()
