import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startChatServer } from '../apps/server/server.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { startTestServer, type TestServer, testCertificates } from './support/harness.ts'
import { selfSignedCertificate } from './support/self-signed.ts'
import { spawnTerm } from './support/term.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

async function selfSignedServer(): Promise<TestServer> {
  const tls = await selfSignedCertificate()
  const server = startChatServer({
    hostname: '127.0.0.1',
    webPort: 0,
    termPort: 0,
    tls,
    dataDir: ':memory:',
    limits: createLimits(),
  })
  const certs = await testCertificates()
  return Object.assign(server, {
    ca: certs.ca,
    dataDir: ':memory:',
    wsUrl: `wss://127.0.0.1:${server.webPort}/ws`,
    cert: tls.cert,
  })
}

describe('the terminal client and the server’s certificate', () => {
  test('a server whose CA this machine does not trust is refused with what to do', async () => {
    await using server = await startTestServer()
    await using client = await spawnTerm(server, { name: 'alice', noCa: true })
    expect(await client.exited()).toBe(1)
    const said = client.errors.join('\n')
    expect(said).toContain(`cannot verify 127.0.0.1:${server.termPort}`)
    expect(said).toMatch(/issued by ".*chatbox local CA/)
    expect(said).toContain('pass --ca FILE')
  })

  test('an unknown self-signed server is not pinned without asking', async () => {
    await using server = await selfSignedServer()
    await using client = await spawnTerm(server, { name: 'alice', noCa: true })
    expect(await client.exited()).toBe(1)
    expect(client.errors.join('\n')).toMatch(
      /unknown self-signed certificate \(SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\)\. Run the client interactively once/,
    )
  })

  test('a pinned server that shows another certificate is refused, saying how to re-pin', async () => {
    await using server = await selfSignedServer()
    const home = mkdtempSync(join(tmpdir(), 'chatbox-term-'))
    const other = await selfSignedCertificate()
    const label = `127.0.0.1:${server.termPort}`
    mkdirSync(join(home, 'chatbox'), { recursive: true })
    const knownHosts = join(home, 'chatbox', 'known_hosts.json')
    writeFileSync(
      knownHosts,
      JSON.stringify({ [label]: { sha256: 'AA:BB', pem: other.cert, pinnedAt: 1 } }),
    )
    await using client = await spawnTerm(server, { name: 'alice', noCa: true, home })
    expect(await client.exited()).toBe(1)
    const said = client.errors.join('\n')
    expect(said).toContain(`the certificate of ${label} has CHANGED since you pinned it`)
    expect(said).toContain('pinned SHA-256: AA:BB')
    expect(said).toContain(`remove the "${label}" entry from ${knownHosts}`)
    // Nothing was re-pinned behind the user's back.
    expect(JSON.parse(readFileSync(knownHosts, 'utf8'))[label].sha256).toBe('AA:BB')
    rmSync(home, { recursive: true, force: true })
  })
})
