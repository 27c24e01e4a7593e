import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDownloadFolder } from './downloads.ts'
import { renderNotice, type TermNotice } from './notices.ts'
import { createReceivedFiles, HELD_BYTES } from './received-files.ts'

const dirs: string[] = []
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-received-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const file = (name: string, size: number) => ({ name, bytes: new Uint8Array(size).fill(0x61) })
const text = (notice: TermNotice) => renderNotice(notice, { color: false })

describe('received files and the save quota', () => {
  test('files are saved while they fit in the quota, then held and numbered', () => {
    const dir = scratch()
    const files = createReceivedFiles(createDownloadFolder(dir), 1000)
    expect(files.receive(file('a.txt', 600))).toEqual({
      type: 'saved',
      file: 1,
      name: 'a.txt',
      path: join(dir, 'a.txt'),
    })
    expect(text(files.receive(file('b.txt', 400)))).toBe(`-- saved to ${join(dir, 'b.txt')}`)
    const held = files.receive(file('c.txt', 1))
    expect(held).toEqual({
      type: 'held',
      file: 3,
      name: 'c.txt',
      usedBytes: 1000,
      quotaBytes: 1000,
    })
    expect(text(held)).toBe(
      "-- c.txt not saved: over this session's save quota (1000 B of 1000 B used); /save 3 saves it",
    )
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'b.txt'])
  })

  test('a file larger than what is left is held, and a smaller one after it still fits', () => {
    const dir = scratch()
    const files = createReceivedFiles(createDownloadFolder(dir), 1000)
    files.receive(file('a.txt', 600))
    expect(files.receive(file('big.txt', 500))).toMatchObject({ type: 'held', file: 2 })
    expect(files.receive(file('small.txt', 400))).toMatchObject({
      type: 'saved',
      path: join(dir, 'small.txt'),
    })
  })

  test('/save N writes a held file whatever the quota, once', () => {
    const dir = scratch()
    const files = createReceivedFiles(createDownloadFolder(dir), 0)
    expect(files.receive(file('a.txt', 5))).toMatchObject({ type: 'held', file: 1 })
    expect(readdirSync(dir)).toEqual([])
    expect(files.save(1)).toMatchObject({ type: 'saved', path: join(dir, 'a.txt') })
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('aaaaa')
    expect(() => files.save(1)).toThrow('no unsaved file 1 is held')
    expect(() => files.save(7)).toThrow('no unsaved file 7 is held')
  })

  test('only the latest held files are kept in memory, by bytes', () => {
    const dir = scratch()
    const files = createReceivedFiles(createDownloadFolder(dir), 0)
    const quarter = HELD_BYTES / 4
    for (let index = 1; index <= 5; index += 1) files.receive(file(`f${index}.txt`, quarter))
    // Four quarters fill the budget: the first of five was let go.
    expect(() => files.save(1)).toThrow('no unsaved file 1 is held')
    expect(files.save(2)).toMatchObject({ path: join(dir, 'f2.txt') })
    // One file over the whole budget is still held: the latest always is.
    files.receive(file('huge.txt', HELD_BYTES + 1))
    expect(files.save(6)).toMatchObject({ path: join(dir, 'huge.txt') })
    expect(() => files.save(5)).toThrow('no unsaved file 5 is held')
  })

  test('a name with escapes and a newline is shown on one line, as text', () => {
    const files = createReceivedFiles(createDownloadFolder(scratch()), 0)
    expect(text(files.receive(file('a\x1b[2J\nb.txt', 1)))).toStartWith(
      '-- a\\x1b[2J\\nb.txt not saved',
    )
  })
})
