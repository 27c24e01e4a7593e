import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDownloadFolder, type OpenExclusive, readFileForSending } from './downloads.ts'
import { Refusal } from './notices.ts'

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

/** The real openSync, counting the opens a save makes. */
function countingOpen(): { open: OpenExclusive; readonly count: number } {
  let count = 0
  return {
    open: (path, flags, mode) => {
      count += 1
      return openSync(path, flags, mode)
    },
    get count() {
      return count
    },
  }
}

const saveReceivedFile = (dir: string, name: string, content: Uint8Array) =>
  createDownloadFolder(dir).save(name, content)

describe('the download folder', () => {
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

  test('the 500th file of one name costs one open, not 500', () => {
    const downloads = scratch()
    const opens = countingOpen()
    const folder = createDownloadFolder(downloads, opens.open)
    for (let index = 0; index < 499; index += 1) folder.save('notes.txt', bytes('x'))
    const before = opens.count
    expect(folder.save('notes.txt', bytes('last'))).toBe(join(downloads, 'notes (499).txt'))
    expect(opens.count - before).toBe(1)
    expect(opens.count).toBe(500)
    expect(readdirSync(downloads)).toHaveLength(500)
  })

  test('after files of the same name from earlier sessions, one folder read finds the next number', () => {
    const downloads = scratch()
    writeFileSync(join(downloads, 'notes.txt'), 'old')
    for (let index = 1; index <= 300; index += 1) {
      writeFileSync(join(downloads, `notes (${index}).txt`), 'old')
    }
    const opens = countingOpen()
    const folder = createDownloadFolder(downloads, opens.open)
    expect(folder.save('notes.txt', bytes('new'))).toBe(join(downloads, 'notes (301).txt'))
    expect(opens.count).toBe(2)
    expect(folder.save('notes.txt', bytes('newer'))).toBe(join(downloads, 'notes (302).txt'))
    expect(opens.count).toBe(3)
    expect(readFileSync(join(downloads, 'notes (300).txt'), 'utf8')).toBe('old')
  })

  test('a file that appears under the next number meanwhile is stepped over, not overwritten', () => {
    const downloads = scratch()
    const folder = createDownloadFolder(downloads)
    expect(folder.save('notes.txt', bytes('one'))).toBe(join(downloads, 'notes.txt'))
    writeFileSync(join(downloads, 'notes (1).txt'), 'theirs')
    writeFileSync(join(downloads, 'notes (2).txt'), 'theirs')
    expect(folder.save('notes.txt', bytes('two'))).toBe(join(downloads, 'notes (3).txt'))
    expect(readFileSync(join(downloads, 'notes (1).txt'), 'utf8')).toBe('theirs')
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
    await expect(readFileForSending(dir, 100)).rejects.toMatchObject({
      code: 'not_a_file',
      message: `not a file: ${dir}`,
    })
  })

  test('a file that is not there is named as typed, not as an errno', async () => {
    const dir = scratch()
    for (const path of [join(dir, 'gone.txt'), join(dir, 'no', 'such', 'dir.txt')]) {
      const refusal = await readFileForSending(path, 100).catch((error: unknown) => error)
      expect(refusal).toBeInstanceOf(Refusal)
      expect(refusal).toMatchObject({
        code: 'no_such_file',
        message: `no such file: ${path}`,
        path,
      })
    }
  })
})
