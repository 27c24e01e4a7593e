import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { statSync, writeFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { SETTINGS } from '../apps/server/config.ts'
import { temporaryDirectory } from './support/harness.ts'
import { serve } from './support/serve-process.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('bun run serve', () => {
  test('makes certificates on first start, prints the CA fingerprint and URLs, and stops on SIGTERM', async () => {
    using dir = temporaryDirectory()
    const certDir = joinPath(dir, 'certs')
    const server = serve({
      CHATBOX_CERT_DIR: certDir,
      CHATBOX_DATA_DIR: joinPath(dir, 'data'),
      CHATBOX_WEB_PORT: '0',
      CHATBOX_TERM_PORT: '0',
    })
    const output = await server.until('data:')
    expect(output).toContain('made new development certificates')
    expect(output).toMatch(/CA SHA-256: +([0-9A-F]{2}:){31}[0-9A-F]{2}/)
    const port = Number(output.match(/https:\/\/127\.0\.0\.1:(\d+)\//)?.[1])
    const ca = await Bun.file(joinPath(certDir, 'ca.pem')).text()
    const health = await fetch(`https://127.0.0.1:${port}/healthz`, { tls: { ca } })
    expect(await health.json()).toEqual({ ok: true })
    expect(statSync(joinPath(certDir, 'server-key.pem')).mode & 0o777).toBe(0o600)
    server.child.kill('SIGTERM')
    const { code } = await server.exit()
    expect(code).toBe(0)
  })

  test('a port in use ends with one line saying what to do', async () => {
    using dir = temporaryDirectory()
    await using blocker = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    const { code, output } = await serve({
      CHATBOX_CERT_DIR: joinPath(dir, 'certs'),
      CHATBOX_DATA_DIR: joinPath(dir, 'data'),
      CHATBOX_WEB_PORT: '0',
      CHATBOX_TERM_PORT: String(blocker.port),
    }).exit()
    expect(code).toBe(1)
    expect(output).toContain(`is in use on 127.0.0.1; stop the other server or set`)
    expect(output).not.toContain('    at ')
  })

  test('--help prints every setting with its environment variable and default, and exits 0', async () => {
    const { code, output } = await serve({}, ['--help']).exit()
    expect(code).toBe(0)
    expect(output).toContain('usage: bun run serve')
    for (const setting of Object.values(SETTINGS)) {
      expect(output).toContain(`--${setting.flag} VALUE`)
      expect(output).toContain(setting.env)
    }
    expect(output).not.toContain('chatbox is running')
  })

  test('a bad setting ends with exit 2 and a line naming it', async () => {
    const { code, output } = await serve({ CHATBOX_WEB_PORT: 'eighty' }).exit()
    expect(code).toBe(2)
    expect(output.trim().split('\n').at(-1)).toBe(
      'chatbox: CHATBOX_WEB_PORT (--web-port) must be a port number: got "eighty"',
    )
  })

  test('an unusable data directory or certificate directory is a clear error at start', async () => {
    using dir = temporaryDirectory()
    const aFile = joinPath(dir, 'not-a-directory')
    writeFileSync(aFile, 'x')
    const badData = await serve({
      CHATBOX_CERT_DIR: joinPath(dir, 'certs'),
      CHATBOX_DATA_DIR: joinPath(aFile, 'data'),
      CHATBOX_WEB_PORT: '0',
      CHATBOX_TERM_PORT: '0',
    }).exit()
    expect(badData.code).toBe(1)
    expect(badData.output).toContain('is not writable')
    expect(badData.output).toContain('CHATBOX_DATA_DIR')
    const badCerts = await serve({
      CHATBOX_CERT_DIR: joinPath(aFile, 'certs'),
      CHATBOX_WEB_PORT: '0',
      CHATBOX_TERM_PORT: '0',
    }).exit()
    expect(badCerts.code).toBe(1)
    expect(badCerts.output).toContain('cannot make certificates in')
    expect(badCerts.output).not.toContain('    at ')
  })
})
