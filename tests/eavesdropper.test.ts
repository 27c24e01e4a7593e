import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tlsTransport } from '../shared/client/tls-transport.ts'
import { startEngineClient } from './support/engine.ts'
import { startTestServer, temporaryDirectory } from './support/harness.ts'
import { containsBytes, startRelay } from './support/relay.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const utf8 = new TextEncoder()

describe('what an eavesdropper and the server get to see', () => {
  test('a relay that broke TLS and a scan of the server’s disk find no message text, file name or content', async () => {
    using dataDir = temporaryDirectory()
    const server = await startTestServer({ dataDir })
    await using relay = await startRelay(server)
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using bob = await startEngineClient(server, 'bob', 'tls', {
      connect: tlsTransport({
        hostname: '127.0.0.1',
        port: relay.port,
        ca: server.ca,
        serverName: 'localhost',
      }),
    })
    const secretText = 'the launch code is tangerine-42'
    const fileName = 'quarterly-plans-secret.txt'
    const fileContent = 'merger with ACME closes on Friday'
    await alice.session.sendText(secretText)
    await alice.session.sendFile({ name: fileName, bytes: utf8.encode(fileContent) })
    await bob.session.sendText(`re: ${secretText}`)
    await bob.waitFor('file')
    await alice.waitFor('message', (event) => event.text.startsWith('re:'))
    await server.stop()

    // The relay saw the protocol in the clear, so it would have seen the words if they were there:
    // the control frames' JSON, and every message's binary frame, which it decoded.
    expect(containsBytes(relay.recorded, utf8.encode('"type":"ready"'))).toBe(true)
    expect(relay.fromServer.filter((frame) => frame.type === 'app').length).toBeGreaterThanOrEqual(
      3,
    )
    expect(containsBytes(relay.recorded, utf8.encode('"from":"alice"'))).toBe(true)
    const disk = readdirSync(dataDir).map(
      (file) => new Uint8Array(readFileSync(join(dataDir, file))),
    )
    expect(disk.length).toBeGreaterThan(0)
    expect(containsBytes(disk, utf8.encode('alice'))).toBe(true)
    for (const secret of [secretText, fileName, fileContent, 'tangerine', 'ACME']) {
      expect(containsBytes(relay.recorded, utf8.encode(secret))).toBe(false)
      expect(containsBytes(disk, utf8.encode(secret))).toBe(false)
    }
  })
})
