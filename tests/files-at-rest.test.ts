// What the server leaves readable on disk and in its own output: store files only its user can
// read whatever the directory's mode, and no secret setting echoed in a start-up error.
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import { ConfigError, loadConfig } from '../apps/server/config.ts'
import { openEmbeddedBackend } from '../apps/server/store/embedded-backend.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { temporaryDirectory } from './support/harness.ts'
import { serve } from './support/serve-process.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

/** Each file in `dir` with its permission bits, as octal text: `{ 'chatbox.sqlite': '600' }`. */
function modes(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir).map((name) => [
      name,
      (statSync(joinPath(dir, name)).mode & 0o777).toString(8),
    ]),
  )
}

/** A directory as an operator might have made it: readable by everyone. */
function openDirectory(path: string): string {
  mkdirSync(path, { mode: 0o755 })
  chmodSync(path, 0o755)
  return path
}

// The usual umask, set so the files' modes do not depend on the shell the tests run from; child
// processes inherit it.
let savedUmask = 0
beforeEach(() => {
  savedUmask = process.umask(0o022)
})
afterEach(() => {
  process.umask(savedUmask)
})

function openStore(dataDir: string) {
  return openEmbeddedBackend({ dataDir, limits: createLimits() })
}

describe('store files at rest', () => {
  test('the database and its -wal and -shm files are 0600 inside a 0755 directory', async () => {
    using dir = temporaryDirectory()
    const data = openDirectory(joinPath(dir, 'data'))
    const backend = openStore(data)
    expect(modes(data)).toEqual({
      'chatbox.sqlite': '600',
      'chatbox.sqlite-wal': '600',
      'chatbox.sqlite-shm': '600',
    })
    await backend.close()
    expect(modes(data)).toEqual({ 'chatbox.sqlite': '600' })
  })

  test('a database an older version left readable by others is made 0600 when opened', async () => {
    using dir = temporaryDirectory()
    const data = openDirectory(joinPath(dir, 'data'))
    await openStore(data).close()
    chmodSync(joinPath(data, 'chatbox.sqlite'), 0o644)
    // A write-ahead log left by a crash, readable by everyone.
    writeFileSync(joinPath(data, 'chatbox.sqlite-wal'), '', { mode: 0o644 })

    const backend = openStore(data)
    expect(modes(data)).toMatchObject({
      'chatbox.sqlite': '600',
      'chatbox.sqlite-wal': '600',
      'chatbox.sqlite-shm': '600',
    })
    await backend.close()
  })

  test('bun run serve leaves nothing secret readable by others in 0755 data and certificate directories', async () => {
    using dir = temporaryDirectory()
    const data = openDirectory(joinPath(dir, 'data'))
    const certs = openDirectory(joinPath(dir, 'certs'))
    const server = serve({
      CHATBOX_CERT_DIR: certs,
      CHATBOX_DATA_DIR: data,
      CHATBOX_WEB_PORT: '0',
      CHATBOX_TERM_PORT: '0',
    })
    await server.until('data:')
    expect(modes(data)).toEqual({
      'chatbox.sqlite': '600',
      'chatbox.sqlite-wal': '600',
      'chatbox.sqlite-shm': '600',
      // The admin's control socket, for the server's own user alone.
      admin: '700',
    })
    expect(modes(joinPath(data, 'admin'))).toEqual({ 'control.sock': '600' })
    // Certificates are public; the one private key is the server's own.
    expect(modes(certs)).toEqual({ 'ca.pem': '644', 'server.pem': '644', 'server-key.pem': '600' })
    server.child.kill('SIGTERM')
    expect((await server.exit()).code).toBe(0)
    expect(modes(data)).toEqual({ 'chatbox.sqlite': '600', admin: '700' })
  })
})

describe('secrets in start-up errors', () => {
  const roomSecret = 'hunter2'

  test('a too-short room secret stops the server without printing it, from the environment or a flag', async () => {
    const fromEnv = await serve({ CHATBOX_ROOM_SECRET: roomSecret }).exit()
    expect(fromEnv.code).toBe(2)
    expect(fromEnv.output.trim().split('\n').at(-1)).toBe(
      'chatbox: CHATBOX_ROOM_SECRET (--room-secret) must be at least 8 characters (the value is not shown)',
    )
    expect(fromEnv.output).not.toContain(roomSecret)
    // The server itself: `bun run` echoes its command line, flags and all (one more reason the
    // README recommends the environment variable).
    const fromFlag = await serve({}, ['--room-secret', roomSecret], { direct: true }).exit()
    expect(fromFlag.code).toBe(2)
    expect(fromFlag.output).toContain('CHATBOX_ROOM_SECRET (--room-secret)')
    expect(fromFlag.output).not.toContain(roomSecret)
  })

  test('a bad Redis URL is named without its password, whatever is wrong with it', () => {
    const password = 's3cr3t-pa55'
    for (const url of [
      `http://chatbox:${password}@redis.example:6379`,
      `redis://chatbox:${password}@redis example:6379`,
      `rediss//:${password}@redis.example`,
    ]) {
      let message = ''
      try {
        loadConfig([], { CHATBOX_REDIS_URL: url })
      } catch (error) {
        if (error instanceof ConfigError) message = error.message
      }
      expect(message).toStartWith('CHATBOX_REDIS_URL (--redis-url) ')
      expect(message).toEndWith(' (the value is not shown)')
      expect(message).not.toContain(password)
    }
  })

  test('other settings still show the value they refused', () => {
    expect(() => loadConfig(['--web-port', 'eighty'], {})).toThrow(
      'CHATBOX_WEB_PORT (--web-port) must be a port number: got "eighty"',
    )
  })
})
