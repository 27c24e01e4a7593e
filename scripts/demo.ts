// `bun run demo`: a server, two scripted clients and taps on loopback, then what the wire, the
// server's disk and the clients each hold, so both layers (TLS 1.3 and MLS) can be seen working.
import { Database } from 'bun:sqlite'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Socket } from 'bun'
import { startChatServer } from '../apps/server/server.ts'
import type { ChatEvent, FileEvent, MessageEvent } from '../shared/client/events.ts'
import { createMemoryStores } from '../shared/client/memory-stores.ts'
import { type ChatSession, createChatSession } from '../shared/client/session.ts'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import type { ConnectTransport } from '../shared/client/transport.ts'
import { webSocketTransport } from '../shared/client/websocket-transport.ts'
import { createFrameDecoder } from '../shared/protocol/framing.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { generateCertificates } from './gen-certs.ts'

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

// ---- output helpers ---------------------------------------------------------------------

function hex(bytes: Uint8Array, count = 16): string {
  const shown = [...bytes.subarray(0, count)].map((byte) => byte.toString(16).padStart(2, '0'))
  return `${shown.join(' ')}${bytes.length > count ? ' …' : ''}`
}

/** Long base64url (or any long string) as its head, an ellipsis and its length. */
function trim(text: string, keep = 16): string {
  return text.length <= keep + 8 ? text : `${text.slice(0, keep)}…(${text.length} chars)`
}

function trimFrame(text: string): string {
  return text.replace(/"([A-Za-z0-9_-]{40,})"/g, (_match, value: string) => `"${trim(value)}"`)
}

function joinBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** Which of the secrets occur in these bytes. */
function secretsIn(bytes: Uint8Array): string[] {
  const haystack = Buffer.from(bytes)
  return SECRETS.filter((secret) => haystack.includes(Buffer.from(utf8.encode(secret))))
}

/**
 * Every base64url field of these JSON frames, decoded: plaintext that was merely encoded, not
 * encrypted, would show up here.
 */
function decodedFields(frames: readonly string[]): Uint8Array {
  const fields = frames.flatMap((frame) =>
    [...frame.matchAll(/"([A-Za-z0-9_-]{16,})"/g)].map(
      (match) => new Uint8Array(Buffer.from(match[1] as string, 'base64url')),
    ),
  )
  return joinBytes(fields)
}

const number = (value: number) => value.toLocaleString('en-US')

// ---- taps and relays: what anyone on the path between two sockets gets -------------------

interface Recorded {
  /** Bytes from the connecting side, and from the side connected to, in order. */
  readonly up: Uint8Array[]
  readonly down: Uint8Array[]
}

interface Forwarder {
  write(bytes: Uint8Array): void
  /** From here on writes go to `socket`; until then they wait. */
  attach(socket: Socket<unknown>): void
  drain(): void
}

/** Writes in order, keeping what the socket could not take until it drains. */
function forwarder(): Forwarder {
  let socket: Socket<unknown> | undefined
  const queue: Uint8Array[] = []
  const flush = () => {
    while (socket && queue.length > 0) {
      const next = queue[0] as Uint8Array
      const written = Math.max(socket.write(next), 0)
      if (written < next.length) {
        queue[0] = next.subarray(written)
        return
      }
      queue.shift()
    }
  }
  return {
    write(bytes) {
      queue.push(bytes)
      flush()
    },
    attach(attached) {
      socket = attached
      flush()
    },
    drain: flush,
  }
}

interface TapState {
  readonly toUpstream: Forwarder
  readonly toClient: Forwarder
  upstream?: Socket<undefined>
}

/**
 * A plain TCP relay that copies bytes unchanged and keeps them: the eavesdropper on the wire.
 * With `tls`, it terminates TLS with the server's own certificate and opens its own TLS link to
 * the server: what the server process (or someone who broke TLS) reads.
 */
function startRelay(target: number, options: { tls?: { key: string; cert: string; ca: string } }) {
  const recorded: Recorded = { up: [], down: [] }
  const links = new Set<Socket<TapState>>()
  const listener = Bun.listen<TapState>({
    hostname: '127.0.0.1',
    port: 0,
    ...(options.tls ? { tls: { key: options.tls.key, cert: options.tls.cert } } : {}),
    socket: {
      open(client) {
        const state: TapState = { toUpstream: forwarder(), toClient: forwarder() }
        state.toClient.attach(client as Socket<unknown>)
        client.data = state
        links.add(client)
        const upstream = {
          data(_socket: Socket<undefined>, chunk: Buffer) {
            recorded.down.push(new Uint8Array(chunk))
            state.toClient.write(new Uint8Array(chunk))
          },
          drain: () => state.toUpstream.drain(),
          close: () => void client.end(),
          error: () => void client.end(),
        }
        const ready = (socket: Socket<undefined>) => {
          state.upstream = socket
          state.toUpstream.attach(socket as Socket<unknown>)
        }
        const tls = options.tls
        void Bun.connect(
          tls
            ? {
                hostname: '127.0.0.1',
                port: target,
                tls: { ca: tls.ca, serverName: 'localhost' },
                // Bun drops writes made before the handshake ends: start forwarding here.
                socket: { ...upstream, handshake: ready },
              }
            : { hostname: '127.0.0.1', port: target, socket: { ...upstream, open: ready } },
        ).catch(() => client.end())
      },
      data(client, chunk) {
        recorded.up.push(new Uint8Array(chunk))
        client.data.toUpstream.write(new Uint8Array(chunk))
      },
      drain: (client) => client.data.toClient.drain(),
      close(client) {
        links.delete(client)
        client.data.upstream?.end()
      },
      error: () => {},
    },
  })
  return {
    port: listener.port,
    recorded,
    stop() {
      listener.stop(true)
      for (const link of links) link.terminate()
    },
  }
}

// ---- TLS records as an eavesdropper sees them --------------------------------------------

const RECORD_TYPES: Record<number, string> = {
  20: 'change_cipher_spec',
  21: 'alert',
  22: 'handshake',
  23: 'application_data',
}
const CIPHER_SUITES = new Map([
  [0x1301, 'TLS_AES_128_GCM_SHA256'],
  [0x1302, 'TLS_AES_256_GCM_SHA384'],
  [0x1303, 'TLS_CHACHA20_POLY1305_SHA256'],
])
const TLS_VERSIONS = new Map([
  [0x0303, '1.2'],
  [0x0304, '1.3'],
])

interface TlsRecord {
  readonly type: number
  readonly bytes: Uint8Array
}

function tlsRecords(stream: Uint8Array): TlsRecord[] {
  const records: TlsRecord[] = []
  for (let at = 0; at + 5 <= stream.length; ) {
    const length = ((stream[at + 3] ?? 0) << 8) | (stream[at + 4] ?? 0)
    records.push({ type: stream[at] ?? 0, bytes: stream.subarray(at, at + 5 + length) })
    at += 5 + length
  }
  return records
}

/**
 * The version and cipher suite a ServerHello record settled on. TLS 1.3 names its version in the
 * supported_versions extension; the legacy field always says 1.2.
 */
function serverHello(record: TlsRecord | undefined): { version: string; suite: string } {
  const none = { version: 'unknown', suite: 'unknown' }
  const b = record?.bytes
  if (!b || record.type !== 22 || b[5] !== 2) return none
  let at = 5 + 4 + 2 + 32
  at += 1 + (b[at] ?? 0)
  const suiteId = ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
  at += 2 + 1
  const end = at + 2 + (((b[at] ?? 0) << 8) | (b[at + 1] ?? 0))
  let version = 0x0303
  for (at += 2; at + 4 <= end; ) {
    const type = ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
    const length = ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)
    if (type === 0x002b) version = ((b[at + 4] ?? 0) << 8) | (b[at + 5] ?? 0)
    at += 4 + length
  }
  return {
    version: `${TLS_VERSIONS.get(version) ?? 'other'} (0x${version.toString(16).padStart(4, '0')})`,
    suite: CIPHER_SUITES.get(suiteId) ?? `0x${suiteId.toString(16)}`,
  }
}

function describeWire(label: string, recorded: Recorded): string[] {
  const up = joinBytes(recorded.up)
  const down = joinBytes(recorded.down)
  const sent = tlsRecords(up)
  const received = tlsRecords(down)
  const hello = serverHello(received[0])
  const firstApp = received.find((record) => record.type === 23)
  const counts = new Map<string, number>()
  for (const record of [...sent, ...received]) {
    const name = RECORD_TYPES[record.type] ?? `type ${record.type}`
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
    `    → ${hex(sent[0]?.bytes ?? empty)}  ClientHello`,
    `    ← ${hex(received[0]?.bytes ?? empty)}  ServerHello: TLS ${hello.version}, ${hello.suite}`,
    `    ← ${hex(firstApp?.bytes ?? empty)}  application_data: encrypted from here on`,
    `    message, file name, file text or any JSON in these bytes: ${foundOrNot(
      inTheClear ? [...found, 'JSON'] : found,
    )}`,
  ]
}

/** Length-prefixed JSON frames out of a decrypted raw-TLS stream. */
function framesOf(chunks: readonly Uint8Array[]): string[] {
  const decoder = createFrameDecoder(1 << 26)
  const text = new TextDecoder()
  return chunks.flatMap((chunk) => decoder.push(chunk).frames.map((body) => text.decode(body)))
}

// ---- packet capture, when a capture tool is installed ---------------------------------------

interface Capture {
  readonly tool: string
  /** `seen`: bytes a tap recorded, which the capture must hold too if it saw the traffic. */
  stop(seen: Uint8Array): Promise<string[]>
}

async function startCapture(dir: string, ports: number[]): Promise<Capture | string> {
  const filter = ports.map((port) => `tcp port ${port}`).join(' or ')
  const file = join(dir, 'loopback.pcap')
  const tools = [
    {
      tool: 'tcpdump',
      args: ['-i', 'lo', '-n', '-U', '--immediate-mode', '-w', file, filter],
      ready: 'listening on',
    },
    { tool: 'tshark', args: ['-i', 'lo', '-f', filter, '-w', file], ready: 'Capturing on' },
  ]
  const found = tools.find((candidate) => Bun.which(candidate.tool))
  if (!found) {
    return 'neither tcpdump nor tshark is installed: the taps below stand in for a packet capture'
  }
  const child = Bun.spawn([found.tool, ...found.args], { stdout: 'ignore', stderr: 'pipe' })
  let stderr = ''
  const reading = (async () => {
    for await (const chunk of child.stderr) stderr += new TextDecoder().decode(chunk)
  })()
  const deadline = performance.now() + 5000
  while (!stderr.includes(found.ready)) {
    if (child.exitCode !== null || performance.now() > deadline) {
      child.kill()
      const why = stderr.trim().split('\n').at(-1)
      return `${found.tool} could not capture here (${why}); the taps below stand in for it`
    }
    await Bun.sleep(20)
  }
  return {
    tool: found.tool,
    async stop(seen) {
      child.kill('SIGINT')
      await child.exited
      await reading
      const pcap = new Uint8Array(readFileSync(file))
      const packets = stderr.match(/(\d+) packets captured/)?.[1] ?? '?'
      const secrets = secretsIn(pcap)
      check(secrets.length === 0, `the ${found.tool} capture holds ${secrets.join(', ')}`)
      const json = Buffer.from(pcap).includes('"type"') ? ['JSON'] : []
      check(json.length === 0, `the ${found.tool} capture holds protocol JSON`)
      const saw = Buffer.from(pcap).includes(Buffer.from(seen))
      check(saw, `the ${found.tool} capture missed the traffic the taps recorded`)
      return [
        `  ${found.tool} on lo: ${packets} packets, ${number(pcap.length)} bytes captured; ` +
          `it holds the ClientHello the tap below recorded: ${saw ? 'yes' : 'NO'}`,
        `    message, file name, file text or any JSON in the capture: ${foundOrNot([
          ...secrets,
          ...json,
        ])}`,
      ]
    },
  }
}

// ---- scripted clients --------------------------------------------------------------------

interface DemoClient {
  readonly session: ChatSession
  next<T extends ChatEvent['type']>(
    type: T,
    where?: (event: Extract<ChatEvent, { type: T }>) => boolean,
  ): Promise<Extract<ChatEvent, { type: T }>>
}

async function startClient(name: string, connect: ConnectTransport): Promise<DemoClient> {
  const session = createChatSession({
    connect,
    name,
    stores: createMemoryStores(),
    reconnect: false,
  })
  const events: ChatEvent[] = []
  const wakers = new Set<() => void>()
  session.on((event) => {
    events.push(event)
    for (const wake of wakers) wake()
  })
  await session.connect()
  await session.whenReady()
  return {
    session,
    next(type, where = () => true) {
      type E = Extract<ChatEvent, { type: typeof type }>
      const { promise, resolve, reject } = Promise.withResolvers<E>()
      const timer = setTimeout(() => reject(new Error(`${name} saw no ${type} event`)), 10_000)
      const wake = () => {
        const event = events.find((item) => item.type === type && where(item as E)) as E
        if (!event) return
        wakers.delete(wake)
        clearTimeout(timer)
        resolve(event)
      }
      wakers.add(wake)
      wake()
      return promise
    },
  }
}

// ---- the run -------------------------------------------------------------------------------

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
    const relay = startRelay(server.termPort, { tls: { ...tls, ca } })
    const termTap = startRelay(relay.port, {})
    const webTap = startRelay(server.webPort, {})
    cleanups.unshift(relay.stop, termTap.stop, webTap.stop)
    const capture = await startCapture(dir, [
      server.webPort,
      server.termPort,
      relay.port,
      termTap.port,
      webTap.port,
    ])

    console.log('chatbox wire demonstration')
    console.log(`  server   127.0.0.1:${server.webPort} (WSS) and :${server.termPort} (raw TLS)`)
    console.log('  alice    engine over WSS, through a TCP tap')
    console.log('  bob      engine over raw TLS, through a TCP tap and a TLS-terminating relay')
    console.log(
      `  capture  ${typeof capture === 'string' ? capture : `${capture.tool} on loopback`}`,
    )

    const alice = await startClient(
      'alice',
      webSocketTransport({ url: `wss://127.0.0.1:${webTap.port}/ws`, tls: { ca } }),
    )
    const bob = await startClient(
      'bob',
      tlsTransport({ hostname: '127.0.0.1', port: termTap.port, ca, serverName: 'localhost' }),
    )
    await alice.next('membership', (event) => event.members.includes('bob'))
    await alice.session.sendText(MESSAGE)
    const message: MessageEvent = await bob.next('message', (event) => !event.own)
    await bob.session.sendFile({ name: FILE_NAME, bytes: utf8.encode(FILE_TEXT) })
    const file: FileEvent = await alice.next('file', (event) => !event.own)
    const bobSees = await bob.session.members()
    const aliceSees = await alice.session.members()
    const roomCodes = [await alice.session.roomCode(), await bob.session.roomCode()]
    await Promise.all([alice.session.close(), bob.session.close()])
    const captured =
      typeof capture === 'string'
        ? undefined
        : await capture.stop(joinBytes(termTap.recorded.up).subarray(0, 64))
    await stopServer()

    console.log('')
    console.log(`alice sends a message, ${JSON.stringify(MESSAGE)}`)
    console.log(`bob sends a file, ${FILE_NAME} (${FILE_TEXT.length} bytes)`)

    // (a) the wire -----------------------------------------------------------------------
    console.log('')
    console.log('(a) What an eavesdropper on the sockets captures')
    if (captured) for (const line of captured) console.log(line)
    for (const line of describeWire('alice ⇄ server (WSS)', webTap.recorded)) console.log(line)
    for (const line of describeWire('bob ⇄ server (raw TLS)', termTap.recorded)) console.log(line)
    const up = framesOf(relay.recorded.up)
    const down = framesOf(relay.recorded.down)
    const decrypted = joinBytes([...relay.recorded.up, ...relay.recorded.down])
    const relaySecrets = secretsIn(joinBytes([decrypted, decodedFields([...up, ...down])]))
    check(relaySecrets.length === 0, `the relay read ${relaySecrets.join(', ')}`)
    check(
      down.some((frame) => frame.includes('"type":"app"')),
      'the relay saw no app frame',
    )
    console.log(
      '  what a relay holding the server’s certificate (as if TLS were broken) reads on bob’s ' +
        'link: JSON frames, MLS inside',
    )
    const shown = [
      ...up.filter((frame) => /"type":"(hello|app)"/.test(frame)).map((frame) => `→ ${frame}`),
      ...down.filter((frame) => frame.includes('"type":"app"')).map((frame) => `← ${frame}`),
    ]
    for (const frame of shown) console.log(`    ${trimFrame(frame)}`)
    console.log(
      `    message, file name or file text in all ${up.length + down.length} frames ` +
        `(${number(decrypted.length)} bytes, base64url fields decoded too): ` +
        foundOrNot(relaySecrets),
    )

    // (b) the server ---------------------------------------------------------------------
    console.log('')
    console.log('(b) What the server holds (chatbox.sqlite, read after it stopped)')
    // Searched before SQLite opens the file again (a reader makes its -wal and -shm files anew).
    const files = readdirSync(dataDir)
    const disk = joinBytes(files.map((name) => new Uint8Array(readFileSync(join(dataDir, name)))))
    const diskSecrets = secretsIn(disk)
    const held = (() => {
      using db = new Database(join(dataDir, 'chatbox.sqlite'), { readonly: true })
      return {
        names: db
          .query<{ name: string; identity_key: string }, []>(
            'SELECT name, identity_key FROM identities ORDER BY bound_at, name',
          )
          .all(),
        group: db
          .query<{ group_id: string; epoch: number; roster: string }, []>(
            'SELECT group_id, epoch, roster FROM mls_group',
          )
          .get(),
        log: db.query<{ seq: number; frame: string }, []>('SELECT seq, frame FROM log').all(),
      }
    })()
    for (const row of held.names) {
      console.log(`  name ${row.name.padEnd(6)} bound to identity key ${trim(row.identity_key)}`)
    }
    if (held.group) {
      console.log(
        `  MLS group ${held.group.group_id}, epoch ${held.group.epoch}, ` +
          `roster ${held.group.roster}`,
      )
    }
    for (const row of held.log) console.log(`  log #${row.seq} ${trimFrame(row.frame)}`)
    const logSecrets = secretsIn(decodedFields(held.log.map((row) => row.frame)))
    check(held.log.length > 0 && held.names.length === 2, 'the server did not log the room')
    check(diskSecrets.length === 0, `the data directory holds ${diskSecrets.join(', ')}`)
    check(logSecrets.length === 0, `the log's decoded fields hold ${logSecrets.join(', ')}`)
    console.log(
      `  message, file name or file text anywhere in the data directory (${files.join(', ')}, ` +
        `${number(disk.length)} bytes): ${foundOrNot(diskSecrets)}`,
    )
    console.log(`  … in the log's base64url fields, decoded: ${foundOrNot(logSecrets)}`)

    // (c) the clients --------------------------------------------------------------------
    console.log('')
    console.log('(c) What the clients show (decrypted; the sender is the one MLS authenticated)')
    const aliceKey = bobSees.find((member) => member.name === 'alice')
    const bobKey = aliceSees.find((member) => member.name === 'bob')
    console.log(`  bob sees    ${message.from}: ${message.text}`)
    console.log(
      `              signed by alice's key ${aliceKey?.fingerprint.slice(0, 19)} …; the ` +
        `server's claim ${message.claimedBy ? `(${message.claimedBy}) differs` : 'agrees'}`,
    )
    const text = new TextDecoder().decode(file.bytes)
    console.log(
      `  alice sees  ${file.from} sent ${file.name} ` +
        `(${file.size} bytes, sha256 ${file.sha256.slice(0, 12)}…)`,
    )
    for (const line of text.trimEnd().split('\n')) console.log(`              | ${line}`)
    console.log(
      `              signed by bob's key ${bobKey?.fingerprint.slice(0, 19)} …; the server's ` +
        `claim ${file.claimedBy ? `(${file.claimedBy}) differs` : 'agrees'}`,
    )
    console.log(`  room code   alice ${roomCodes[0]}, bob ${roomCodes[1]}`)
    check(
      message.text === MESSAGE && message.from === 'alice' && !message.claimedBy,
      'bob did not read alice’s message as sent',
    )
    check(
      text === FILE_TEXT && file.name === FILE_NAME && file.from === 'bob' && !file.claimedBy,
      'alice did not read bob’s file as sent',
    )
    check(roomCodes[0] !== undefined && roomCodes[0] === roomCodes[1], 'the room codes differ')

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
