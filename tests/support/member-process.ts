// A member in a child process (tests/fixtures/member-fixture.ts), so a test can kill or freeze
// it the way a crash or a stopped laptop would.
import { join as joinPath } from 'node:path'
import { type TestServer, testCertificates } from './harness.ts'

const FIXTURE = joinPath(import.meta.dir, '..', 'fixtures', 'member-fixture.ts')

/** Resolves once the member has joined; the caller kills it (the process is the handle). */
export async function spawnMember(
  server: TestServer,
  transport: 'wss' | 'tls',
  name: string,
): Promise<ReturnType<typeof Bun.spawn>> {
  const certs = await testCertificates()
  const port = transport === 'wss' ? server.webPort : server.termPort
  const member = Bun.spawn(
    ['bun', FIXTURE, transport, String(port), joinPath(certs.dir, 'ca.pem'), name],
    { stdout: 'pipe', stderr: 'inherit' },
  )
  const decoder = new TextDecoder()
  let seen = ''
  for await (const chunk of member.stdout as ReadableStream<Uint8Array>) {
    seen += decoder.decode(chunk)
    if (seen.split('\n').includes('ready')) return member
  }
  throw new Error(`the member fixture ended without joining; it printed: ${seen}`)
}
