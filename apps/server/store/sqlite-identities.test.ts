import { Database } from 'bun:sqlite'
import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keepEntries } from '../../../tests/support/retention.ts'
import { openSqliteStore } from './sqlite-store.ts'

const KEY_A = 'A'.repeat(43)
const KEY_B = 'B'.repeat(43)
const KEY_C = 'C'.repeat(43)
const YEAR = 365 * 86_400_000

const directories: string[] = []
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true })
})

/** A data directory holding a store as schema 2 wrote it, with these bindings. */
function schema2Store(bindings: Array<[name: string, key: string]>): string {
  const directory = mkdtempSync(join(tmpdir(), 'chatbox-names-'))
  directories.push(directory)
  const db = new Database(join(directory, 'chatbox.sqlite'), { create: true, strict: true })
  db.run(`CREATE TABLE identities (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    identity_key TEXT NOT NULL,
    bound_at INTEGER NOT NULL
  ) WITHOUT ROWID`)
  const insert = db.query('INSERT INTO identities VALUES (?, ?, ?, ?)')
  for (const [name, key] of bindings) insert.run(name.toLowerCase(), name, key, 1)
  db.run('PRAGMA user_version = 2')
  db.close()
  return directory
}

describe('name bindings stored before schema 3', () => {
  test('keep their keys, never lapse, and refuse look-alikes, even where two already look alike', () => {
    const directory = schema2Store([
      ['alice', KEY_A],
      ['aIice', KEY_B],
      ['mallory', KEY_A],
    ])
    const store = openSqliteStore(directory, keepEntries(10))
    const { identities } = store
    const later = { unusedBefore: YEAR }
    expect(identities.claim('Alice', KEY_A, YEAR + 1, later)).toBe('known')
    expect(identities.claim('AIICE', KEY_B, YEAR + 1, later)).toBe('known')
    expect(identities.claim('mallory', KEY_C, YEAR + 1, later)).toBe('conflict')
    expect(identities.claim('a1ice', KEY_C, YEAR + 1, later)).toBe('confusable')
    expect(identities.claim('rnallory', KEY_C, YEAR + 1, later)).toBe('confusable')
    expect(identities.claim('carol', KEY_C, YEAR + 1, later)).toBe('new')
    store.close()
    const db = new Database(join(directory, 'chatbox.sqlite'))
    expect(db.query('PRAGMA user_version').get()).toEqual({ user_version: 3 })
    db.close()
  })

  test('are migrated once: a reopened store keeps what was bound and lapsed since', () => {
    const directory = schema2Store([['alice', KEY_A]])
    const first = openSqliteStore(directory, keepEntries(10))
    expect(first.identities.claim('bob', KEY_B, 10)).toBe('new')
    first.close()
    const second = openSqliteStore(directory, keepEntries(10))
    const later = { unusedBefore: 11 }
    expect(second.identities.claim('alice', KEY_C, 12, later)).toBe('conflict')
    expect(second.identities.claim('b0b', KEY_C, 12, later)).toBe('new')
    second.close()
  })

  test('looks a name up by its skeleton through an index, not a scan', () => {
    const directory = schema2Store([])
    openSqliteStore(directory, keepEntries(10)).close()
    const db = new Database(join(directory, 'chatbox.sqlite'))
    const plan = (sql: string) =>
      db
        .query<{ detail: string }, []>(`EXPLAIN QUERY PLAN ${sql}`)
        .all()
        .map((row) => row.detail)
        .join('; ')
    expect(plan("SELECT 1 AS found FROM identities WHERE skeleton = 'x' LIMIT 1")).toContain(
      'USING COVERING INDEX identities_skeleton',
    )
    expect(plan('DELETE FROM identities WHERE confirmed_at IS NULL AND bound_at < 5')).toContain(
      'identities_unconfirmed',
    )
    db.close()
  })
})
