// What only the file history store does: private modes, no plaintext at rest, appends that leave
// earlier bytes alone, and recovery from a torn line or a lost key. The contract covers the rest.
import { afterAll, describe, expect, test } from 'bun:test'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createFileHistoryStore } from './file-history-store.ts'
import { ownerId } from './history-seal.ts'
import { keptFile, keptMessage, owner } from './stores.contract.ts'

const base = mkdtempSync(path.join(os.tmpdir(), 'chatbox-history-'))
afterAll(() => rmSync(base, { recursive: true, force: true }))
let dirs = 0

function place() {
  dirs += 1
  const dir = path.join(base, String(dirs), 'servers', 'localhost_8444')
  const log = path.join(dir, `history-${ownerId(owner)}.log`)
  return { dir, log, key: path.join(dir, 'history-key.json') }
}

const mode = (file: string) => statSync(file).mode & 0o777

describe('the file history store', () => {
  test('writes the log and its key 0600 in a 0700 directory, whatever the umask', async () => {
    const { dir, log, key } = place()
    const previous = process.umask(0)
    try {
      await createFileHistoryStore(dir).append(owner, keptMessage(1))
    } finally {
      process.umask(previous)
    }
    expect([mode(dir), mode(log), mode(key)]).toEqual([0o700, 0o600, 0o600])
  })

  test('holds no plaintext: not the text, the file name or its bytes, nor the sender', async () => {
    const { dir, log } = place()
    const store = createFileHistoryStore(dir)
    const secret = { ...keptMessage(2), text: 'the launch code is 0000' }
    await store.append(owner, secret)
    await store.append(owner, keptFile)
    const raw = readFileSync(log, 'utf8')
    for (const plain of ['launch code', 'notes.txt', 'aGVsbG8', 'hello', 'mallory', 'Alice']) {
      expect(raw).not.toContain(plain)
    }
    expect(raw.trimEnd().split('\n')).toHaveLength(2)
  })

  test('seals the same record twice under two nonces', async () => {
    const { dir, log } = place()
    const store = createFileHistoryStore(dir)
    await store.append(owner, keptMessage(1))
    await store.append(owner, keptMessage(1))
    const [one, two] = readFileSync(log, 'utf8').trimEnd().split('\n')
    expect(one).toBeDefined()
    expect(one).not.toBe(two)
  })

  test('seals a rewrite in blocks of many records, an append as a line of its own', async () => {
    const { dir, log } = place()
    const store = createFileHistoryStore(dir)
    const many = Array.from({ length: 600 }, (_, n) => keptMessage(n))
    await store.replace(owner, many)
    // 256 records or 64 KiB of them to a block, whichever comes first.
    expect(readFileSync(log, 'utf8').trimEnd().split('\n')).toHaveLength(3)
    await store.append(owner, keptMessage(600))
    expect(readFileSync(log, 'utf8').trimEnd().split('\n')).toHaveLength(4)
    const big = { ...keptFile, kept: 'A'.repeat(40 * 1024) }
    await store.replace(owner, [big, big, big])
    expect(readFileSync(log, 'utf8').trimEnd().split('\n')).toHaveLength(3)
    expect(await store.load(owner)).toEqual([big, big, big])
  })

  test('a load gathers many single-record lines into blocks', async () => {
    const { dir, log } = place()
    const store = createFileHistoryStore(dir)
    const kept = Array.from({ length: 100 }, (_, n) => keptMessage(n))
    for (const record of kept) await store.append(owner, record)
    expect(readFileSync(log, 'utf8').trimEnd().split('\n')).toHaveLength(100)
    expect(await store.load(owner)).toEqual(kept)
    expect(readFileSync(log, 'utf8').trimEnd().split('\n')).toHaveLength(1)
    expect(mode(log)).toBe(0o600)
  })

  test('appends after what is there, leaving the earlier bytes as they were', async () => {
    const { dir, log } = place()
    const store = createFileHistoryStore(dir)
    await store.append(owner, keptMessage(1))
    const before = readFileSync(log, 'utf8')
    const inode = statSync(log).ino
    await store.append(owner, keptMessage(2))
    const after = readFileSync(log, 'utf8')
    expect(after.startsWith(before)).toBe(true)
    expect(after.length).toBeGreaterThan(before.length)
    expect(statSync(log).ino).toBe(inode)
  })

  test('drops a line torn by a crash, and the next append reads back whole', async () => {
    const { dir, log } = place()
    const store = createFileHistoryStore(dir)
    await store.append(owner, keptMessage(1))
    appendFileSync(log, 'AAAAtorn-in-the-mid')
    expect(await store.load(owner)).toEqual([keptMessage(1)])
    await store.append(owner, keptMessage(2))
    expect(await createFileHistoryStore(dir).load(owner)).toEqual([keptMessage(1), keptMessage(2)])
  })

  test('a lost or damaged key loses the history, not the ability to keep one', async () => {
    const { dir, key } = place()
    await createFileHistoryStore(dir).append(owner, keptMessage(1))
    writeFileSync(key, '{"key":"not a key"}\n')
    const fresh = createFileHistoryStore(dir)
    expect(await fresh.load(owner)).toEqual([])
    await fresh.append(owner, keptMessage(2))
    expect(await createFileHistoryStore(dir).load(owner)).toEqual([keptMessage(2)])
  })

  test('two stores made at once in one directory agree on one key', async () => {
    const { dir } = place()
    const [one, two] = [createFileHistoryStore(dir), createFileHistoryStore(dir)]
    await Promise.all([one.append(owner, keptMessage(1)), two.append(owner, keptMessage(2))])
    expect(await createFileHistoryStore(dir).load(owner)).toEqual([keptMessage(1), keptMessage(2)])
  })
})
