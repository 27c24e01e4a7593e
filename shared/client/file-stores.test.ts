import { afterEach, describe, expect, test } from 'bun:test'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { clientStateDir, createFileStores, defaultConfigHome } from './file-stores.ts'
import { alice, identity, snapshot } from './stores.contract.ts'

const tempDirs: string[] = []

/** A fresh state directory that does not exist yet, inside a temp dir removed after the test. */
function stateDir(): string {
  const base = mkdtempSync(path.join(os.tmpdir(), 'chatbox-file-stores-'))
  tempDirs.push(base)
  return path.join(base, 'servers', 'localhost_8444')
}

function mode(file: string): number {
  return statSync(file).mode & 0o777
}

afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('createFileStores', () => {
  test('stores nothing and creates nothing until something is saved', async () => {
    const dir = stateDir()
    const stores = createFileStores(dir)
    expect(await stores.identity.load()).toBeUndefined()
    expect(await stores.trust.get('alice')).toBeUndefined()
    expect(await stores.trust.list()).toEqual([])
    expect(await stores.group.load()).toBeUndefined()
    await stores.group.clear()
    expect(existsSync(dir)).toBe(false)
  })

  test('keeps trust.json as an object keyed by the case-folded name', async () => {
    const dir = stateDir()
    const stores = createFileStores(dir)
    await stores.trust.put(alice)
    const bob = { ...alice, name: 'Bob', identityKey: 'C'.repeat(43) }
    await stores.trust.put(bob)
    const verified = { ...alice, name: 'ALICE', verified: true }
    await stores.trust.put(verified)

    expect(JSON.parse(readFileSync(path.join(dir, 'trust.json'), 'utf8'))).toEqual({
      alice: verified,
      bob,
    })
    expect(await stores.trust.get('aLiCe')).toEqual(verified)
  })

  test('keeps peers whose names collide with object prototype keys', async () => {
    const dir = stateDir()
    const constructorPeer = { ...alice, name: 'constructor' }
    const prototypePeer = { ...alice, name: 'Prototype' }
    await createFileStores(dir).trust.put(constructorPeer)
    await createFileStores(dir).trust.put(prototypePeer)

    const reopened = createFileStores(dir)
    expect(await reopened.trust.get('constructor')).toEqual(constructorPeer)
    expect(await reopened.trust.get('prototype')).toEqual(prototypePeer)
    expect(await reopened.trust.get('toString')).toBeUndefined()
    expect(await reopened.trust.list()).toHaveLength(2)
  })

  test('writes every file with mode 0600 inside a directory with mode 0700', async () => {
    const dir = stateDir()
    const stores = createFileStores(dir)
    await stores.identity.save(identity)
    await stores.trust.put(alice)
    await stores.group.save(snapshot)

    expect(mode(dir)).toBe(0o700)
    for (const name of ['identity.json', 'trust.json', 'group.json']) {
      expect(mode(path.join(dir, name))).toBe(0o600)
    }
  })

  test('tightens a directory and file that were left readable by others', async () => {
    const dir = stateDir()
    const stores = createFileStores(dir)
    await stores.group.save(snapshot)
    chmodSync(dir, 0o755)
    chmodSync(path.join(dir, 'group.json'), 0o644)

    await stores.group.save({ ...snapshot, lastSeq: 8 })
    expect(mode(dir)).toBe(0o700)
    expect(mode(path.join(dir, 'group.json'))).toBe(0o600)
  })

  test('removes group.json on clear and leaves identity and trust alone', async () => {
    const dir = stateDir()
    const stores = createFileStores(dir)
    await stores.identity.save(identity)
    await stores.trust.put(alice)
    await stores.group.save(snapshot)
    await stores.group.clear()

    expect(existsSync(path.join(dir, 'group.json'))).toBe(false)
    expect(await stores.group.load()).toBeUndefined()
    expect(await stores.identity.load()).toEqual(identity)
    expect(await stores.trust.list()).toEqual([alice])
  })

  test('ends many concurrent saves with the last one, as valid JSON', async () => {
    const dir = stateDir()
    const stores = createFileStores(dir)
    const saves = Array.from({ length: 50 }, (_, lastSeq) =>
      stores.group.save({ ...snapshot, lastSeq }),
    )
    await Promise.all(saves)

    const text = readFileSync(path.join(dir, 'group.json'), 'utf8')
    expect(JSON.parse(text)).toEqual({ ...snapshot, lastSeq: 49 })
    expect(await createFileStores(dir).group.load()).toEqual({ ...snapshot, lastSeq: 49 })
  })

  test('keeps every record when many puts race, even from two instances', async () => {
    const dir = stateDir()
    const one = createFileStores(dir)
    const two = createFileStores(dir)
    const names = Array.from({ length: 20 }, (_, i) => `peer${i}`)
    await Promise.all(
      names.map((name, i) => (i % 2 === 0 ? one : two).trust.put({ ...alice, name })),
    )

    const listed = await createFileStores(dir).trust.list()
    expect(listed.map((record) => record.name).sort()).toEqual([...names].sort())
  })

  test('leaves no temp files behind', async () => {
    const dir = stateDir()
    const stores = createFileStores(dir)
    await Promise.all([
      stores.identity.save(identity),
      ...Array.from({ length: 10 }, (_, lastSeq) => stores.group.save({ ...snapshot, lastSeq })),
      ...Array.from({ length: 10 }, (_, i) => stores.trust.put({ ...alice, name: `peer${i}` })),
    ])
    expect(readdirSync(dir).sort()).toEqual(['group.json', 'identity.json', 'trust.json'])
  })

  test('refuses to save a value that it could not load again', async () => {
    const dir = stateDir()
    const stores = createFileStores(dir)
    await expect(stores.group.save({ ...snapshot, lastSeq: -1 })).rejects.toThrow()
    await expect(stores.identity.save({ ...identity, publicKey: 'short' })).rejects.toThrow()
    expect(existsSync(dir)).toBe(false)
  })
})

describe('createFileStores with damaged files', () => {
  function damaged(name: string, content: string): { dir: string; file: string } {
    const dir = stateDir()
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const file = path.join(dir, name)
    writeFileSync(file, content, { mode: 0o600 })
    return { dir, file }
  }

  test('names a group.json that is not JSON and says to rejoin as a newcomer', async () => {
    const { dir, file } = damaged('group.json', '{"groupId": "AQ')
    await expect(createFileStores(dir).group.load()).rejects.toThrow(
      `${file} is damaged (not valid JSON); delete it to rejoin the room as a newcomer`,
    )
  })

  test('names a group.json that breaks the schema and says what is wrong', async () => {
    const { dir, file } = damaged('group.json', JSON.stringify({ ...snapshot, lastSeq: -1 }))
    const load = createFileStores(dir).group.load()
    await expect(load).rejects.toThrow(`${file} is damaged (lastSeq: `)
    await expect(load).rejects.toThrow('delete it to rejoin the room as a newcomer')
  })

  test('names an identity.json that is not JSON and says how to recover', async () => {
    const { dir, file } = damaged('identity.json', '\u0000\u0001garbage')
    await expect(createFileStores(dir).identity.load()).rejects.toThrow(
      `${file} is damaged (not valid JSON); restore it from a backup or delete it to start over ` +
        'with a new identity (peers will see a key change)',
    )
  })

  test('names an identity.json that breaks the schema', async () => {
    const { dir, file } = damaged('identity.json', JSON.stringify({ ...identity, publicKey: 'x' }))
    const load = createFileStores(dir).identity.load()
    await expect(load).rejects.toThrow(`${file} is damaged (publicKey: `)
    await expect(load).rejects.toThrow('delete it to start over with a new identity')
  })

  test('names a trust.json that is not JSON', async () => {
    const { dir, file } = damaged('trust.json', 'not json')
    await expect(createFileStores(dir).trust.list()).rejects.toThrow(
      `${file} is damaged (not valid JSON)`,
    )
  })

  test('names a trust.json that is a list instead of an object keyed by name', async () => {
    const { dir, file } = damaged('trust.json', JSON.stringify([alice]))
    await expect(createFileStores(dir).trust.get('alice')).rejects.toThrow(`${file} is damaged`)
  })

  test('names a trust.json with a record that breaks the schema', async () => {
    const { dir, file } = damaged(
      'trust.json',
      JSON.stringify({ alice: { ...alice, verified: 1 } }),
    )
    await expect(createFileStores(dir).trust.list()).rejects.toThrow(
      `${file} is damaged (alice: verified: `,
    )
  })

  test('names a trust.json with a record filed under another name', async () => {
    const { dir, file } = damaged('trust.json', JSON.stringify({ bob: alice }))
    await expect(createFileStores(dir).trust.get('bob')).rejects.toThrow(
      `${file} is damaged (bob: the record is filed under a key other than its name)`,
    )
  })

  test('does not overwrite a damaged trust.json on put', async () => {
    const { dir, file } = damaged('trust.json', 'not json')
    await expect(createFileStores(dir).trust.put(alice)).rejects.toThrow(`${file} is damaged`)
    expect(readFileSync(file, 'utf8')).toBe('not json')
  })

  test('lets a damaged group.json be replaced by a new save', async () => {
    const { dir } = damaged('group.json', 'garbage')
    const stores = createFileStores(dir)
    await stores.group.save(snapshot)
    expect(await stores.group.load()).toEqual(snapshot)
  })
})

describe('clientStateDir', () => {
  const configHome = path.join(os.tmpdir(), 'chatbox-config-home')
  const serversDir = path.resolve(configHome, 'chatbox', 'servers')

  const cases: Array<[string, string]> = [
    ['localhost:8444', 'localhost_8444'],
    ['[::1]:8444', '___1__8444'],
    ['../../etc:1', '.._.._etc_1'],
    ['a/b', 'a_b'],
    ['a\\b', 'a_b'],
    ['chat.example.org', 'chat.example.org'],
    ['.', '_'],
    ['..', '__'],
    ['', '_'],
  ]

  for (const [server, name] of cases) {
    test(`maps ${JSON.stringify(server)} to ${JSON.stringify(name)} inside the servers dir`, () => {
      const dir = clientStateDir(configHome, server)
      expect(dir).toBe(path.join(serversDir, name))
      expect(path.resolve(dir).startsWith(serversDir + path.sep)).toBe(true)
      expect(path.dirname(path.resolve(dir))).toBe(serversDir)
    })
  }

  test('never leaves the servers dir, whatever the address', () => {
    const hostile = ['../..', '/etc/passwd', '..\\..\\x', 'a/../../b', '\u0000', '%2e%2e', ' ']
    for (const server of hostile) {
      const dir = path.resolve(clientStateDir(configHome, server))
      expect(path.dirname(dir)).toBe(serversDir)
      expect(path.basename(dir)).toMatch(/^[A-Za-z0-9._-]+$/)
      expect(['.', '..']).not.toContain(path.basename(dir))
    }
  })
})

describe('defaultConfigHome', () => {
  test('uses XDG_CONFIG_HOME when it is set', () => {
    expect(defaultConfigHome({ XDG_CONFIG_HOME: '/xdg/config' })).toBe('/xdg/config')
  })

  test('falls back to ~/.config when XDG_CONFIG_HOME is unset, empty or relative', () => {
    const fallback = path.join(os.homedir(), '.config')
    expect(defaultConfigHome({})).toBe(fallback)
    expect(defaultConfigHome({ XDG_CONFIG_HOME: '' })).toBe(fallback)
    expect(defaultConfigHome({ XDG_CONFIG_HOME: 'relative/config' })).toBe(fallback)
  })
})
