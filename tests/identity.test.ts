// Identity across addresses and clients (issue 16, items 1-2): one identity per server whatever
// address reached it, and a passphrase-sealed backup that moves it to another device.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clientStateDir } from '../shared/client/file-stores.ts'
import { startTestServer } from './support/harness.ts'
import { spawnTerm } from './support/term.ts'

setDefaultTimeout(60_000)

const PASS = { CHATBOX_IDENTITY_PASSPHRASE: 'purple monkey dishwasher' }

function tempHome(): string & Disposable {
  const home = mkdtempSync(join(tmpdir(), 'chatbox-identity-'))
  return Object.assign(home, {
    [Symbol.dispose]: () => rmSync(home, { recursive: true, force: true }),
  })
}

describe('the terminal client keeps one identity per server', () => {
  test('127.0.0.1 and localhost are the same server: the name is kept', async () => {
    await using server = await startTestServer()
    using home = tempHome()
    {
      await using first = await spawnTerm(server, { name: 'alice', home, args: ['--verbose'] })
      await first.waitForLine(/^-- ready/)
      first.endInput()
      expect(await first.exited()).toBe(0)
    }
    await using second = await spawnTerm(server, {
      name: 'alice',
      home,
      args: ['--verbose', '--server', `localhost:${server.termPort}`],
    })
    await second.waitForLine(/^-- ready/)
    expect(second.errors.join('\n')).not.toMatch(/another identity key/)
    // One directory per server key; each address used links to it.
    const servers = join(home, 'chatbox', 'servers')
    const ids = readdirSync(servers).filter((entry) => /^[0-9a-f]{64}$/.test(entry))
    expect(ids).toHaveLength(1)
    const [id] = ids
    expect(readlinkSync(join(servers, `127.0.0.1_${server.termPort}`))).toBe(id as string)
    expect(readlinkSync(join(servers, `localhost_${server.termPort}`))).toBe(id as string)
  })

  test('a per-address directory from an older client is moved, so its identity is kept', async () => {
    await using server = await startTestServer()
    using home = tempHome()
    {
      await using first = await spawnTerm(server, { name: 'alice', home, args: ['--verbose'] })
      await first.waitForLine(/^-- ready/)
      first.endInput()
      expect(await first.exited()).toBe(0)
    }
    // Put the state back where the older client kept it: by address.
    const legacy = clientStateDir(home, `127.0.0.1:${server.termPort}`)
    const servers = join(home, 'chatbox', 'servers')
    const id = readlinkSync(legacy)
    rmSync(legacy)
    renameSync(join(servers, id), legacy)

    const before = readFileSync(join(legacy, 'identity.json'), 'utf8')

    await using again = await spawnTerm(server, { name: 'alice', home, args: ['--verbose'] })
    await again.waitForLine(/^-- ready/)
    expect(lstatSync(legacy).isSymbolicLink()).toBe(true)
    expect(readlinkSync(legacy)).toBe(id)
    expect(readFileSync(join(servers, id, 'identity.json'), 'utf8')).toBe(before)
  })
})

describe('a sealed identity backup', () => {
  test('exported from one terminal, imported on another, joins under the same name', async () => {
    await using server = await startTestServer()
    using homeA = tempHome()
    using homeB = tempHome()
    using homeC = tempHome()
    {
      await using first = await spawnTerm(server, {
        name: 'alice',
        home: homeA,
        args: ['--verbose'],
      })
      await first.waitForLine(/^-- ready/)
      first.endInput()
      expect(await first.exited()).toBe(0)
    }
    const file = join(homeA, 'alice.chatbox-identity')
    {
      await using exporter = await spawnTerm(server, {
        name: 'alice',
        home: homeA,
        args: ['--export-identity', file],
        env: PASS,
      })
      expect(await exporter.exited()).toBe(0)
      expect(exporter.lines.join('\n')).toMatch(/saved to .*alice\.chatbox-identity/)
    }
    {
      await using wrong = await spawnTerm(server, {
        name: 'alice',
        home: homeB,
        args: ['--import-identity', file],
        env: { CHATBOX_IDENTITY_PASSPHRASE: 'purple monkey' },
      })
      expect(await wrong.exited()).toBe(1)
      expect(wrong.errors.join('\n')).toMatch(/wrong passphrase/)
    }
    {
      // Without the backup, another device is another key: the name is refused.
      await using stranger = await spawnTerm(server, { name: 'alice', home: homeC })
      expect(await stranger.exited()).not.toBe(0)
      expect(stranger.errors.join('\n')).toMatch(/another identity key/)
    }
    await using moved = await spawnTerm(server, {
      name: 'alice',
      home: homeB,
      args: ['--verbose', '--import-identity', file],
      env: PASS,
    })
    await moved.waitForLine(/^-- ready/)
  })
})
