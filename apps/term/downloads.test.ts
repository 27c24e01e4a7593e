import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFileForSending, saveReceivedFile } from './downloads.ts'

const dirs: string[] = []
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-dl-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const bytes = (text: string) => new TextEncoder().encode(text)

describe('saveReceivedFile', () => {
  test('a name that climbs out of the folder is saved inside it under its base name', () => {
    const root = scratch()
    const downloads = join(root, 'downloads')
    const path = saveReceivedFile(downloads, '../../x.txt', bytes('payload'))
    expect(path).toBe(join(downloads, 'x.txt'))
    expect(readdirSync(root)).toEqual(['downloads'])
    expect(saveReceivedFile(downloads, '..\\..\\etc\\passwd.txt', bytes('p'))).toBe(
      join(downloads, 'passwd.txt'),
    )
  })

  test('never overwrites: later files of the same name get a number', () => {
    const downloads = scratch()
    writeFileSync(join(downloads, 'notes.txt'), 'mine')
    expect(saveReceivedFile(downloads, 'notes.txt', bytes('one'))).toBe(
      join(downloads, 'notes (1).txt'),
    )
    expect(saveReceivedFile(downloads, 'notes.txt', bytes('two'))).toBe(
      join(downloads, 'notes (2).txt'),
    )
    expect(readFileSync(join(downloads, 'notes.txt'), 'utf8')).toBe('mine')
  })

  test('an executable-looking name, a NUL and a 4 KB name are tamed', () => {
    const downloads = scratch()
    expect(saveReceivedFile(downloads, 'a.txt.exe', bytes('x'))).toBe(
      join(downloads, 'a.txt.exe.txt'),
    )
    expect(saveReceivedFile(downloads, 'ab\0c.txt', bytes('x'))).toBe(join(downloads, 'abc.txt'))
    const long = saveReceivedFile(downloads, `${'a'.repeat(4096)}.txt`, bytes('x'))
    expect(long.endsWith('.txt')).toBe(true)
    expect(Buffer.byteLength(long.slice(downloads.length + 1))).toBeLessThanOrEqual(120)
  })
})

describe('readFileForSending', () => {
  test('reads a small file whole and only the head of a large one, with its full size', async () => {
    const dir = scratch()
    writeFileSync(join(dir, 'small.txt'), 'hello')
    expect(await readFileForSending(join(dir, 'small.txt'), 100)).toEqual({
      name: 'small.txt',
      bytes: bytes('hello'),
      size: 5,
    })
    writeFileSync(join(dir, 'big.txt'), 'z'.repeat(10_000))
    const big = await readFileForSending(join(dir, 'big.txt'), 100)
    expect(big.bytes.length).toBe(101)
    expect(big.size).toBe(10_000)
    await expect(readFileForSending(dir, 100)).rejects.toThrow('is not a file')
  })
})
