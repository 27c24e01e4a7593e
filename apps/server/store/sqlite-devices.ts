// The devices linked to names, in bun:sqlite: each device's approvals up to its name's key, and the
// devices unlinked since (so a key that comes back is told why it is refused). Used inside the
// identity store's transactions (sqlite-identities.ts); decides nothing itself.
import type { Database } from 'bun:sqlite'
import * as v from 'valibot'
import { type DeviceLink, DeviceLinksSchema } from '../../../shared/protocol/frames.ts'
import type { DeviceRecord } from '../room/ports.ts'

/**
 * Devices linked to a name besides its own key, with their approvals up to that key (JSON). They
 * count only while the name is still bound to `name_key_of`: a released name's are gone with it.
 */
const DEVICES_TABLE = `
  CREATE TABLE IF NOT EXISTS devices (
    identity_key TEXT PRIMARY KEY,
    name_key TEXT NOT NULL,
    name_key_of TEXT NOT NULL,
    links TEXT NOT NULL,
    linked_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS devices_name ON devices (name_key);`

/** Devices unlinked from a name. */
const UNLINKED_TABLE = `
  CREATE TABLE IF NOT EXISTS unlinked_devices (
    identity_key TEXT PRIMARY KEY,
    name_key TEXT NOT NULL,
    unlinked_at INTEGER NOT NULL
  ) WITHOUT ROWID`

export function openSqliteDevices(db: Database) {
  db.run(DEVICES_TABLE)
  db.run(UNLINKED_TABLE)
  const rows = db.query<
    { identity_key: string; links: string; linked_at: number },
    [string, string]
  >(
    'SELECT identity_key, links, linked_at FROM devices WHERE name_key = ? AND name_key_of = ? ORDER BY linked_at, identity_key',
  )
  const isDevice = db.query<{ found: 1 }, [string, string, string]>(
    'SELECT 1 AS found FROM devices WHERE identity_key = ? AND name_key = ? AND name_key_of = ?',
  )
  const inUse = db.query<{ found: 1 }, [string, string]>(
    'SELECT 1 AS found FROM identities WHERE identity_key = ? UNION ALL SELECT 1 FROM devices WHERE identity_key = ? LIMIT 1',
  )
  const insert = db.query(
    'INSERT INTO devices (identity_key, name_key, name_key_of, links, linked_at) VALUES (?, ?, ?, ?, ?)',
  )
  const remove = db.query('DELETE FROM devices WHERE identity_key = ? AND name_key = ?')
  const removeAll = db.query('DELETE FROM devices WHERE name_key = ?')
  const removeOrphans = db.query(
    'DELETE FROM devices WHERE NOT EXISTS (SELECT 1 FROM identities WHERE identities.name_key = devices.name_key AND identities.identity_key = devices.name_key_of)',
  )
  const rememberUnlinked = db.query(
    'INSERT OR REPLACE INTO unlinked_devices (identity_key, name_key, unlinked_at) VALUES (?, ?, ?)',
  )
  const forgetUnlinked = db.query('DELETE FROM unlinked_devices WHERE identity_key = ?')
  const unlinkedFrom = db.query<{ found: 1 }, [string, string]>(
    'SELECT 1 AS found FROM unlinked_devices WHERE identity_key = ? AND name_key = ?',
  )

  return {
    /** The devices linked to the name (case-folded) while it is bound to `boundTo`. */
    of(nameKey: string, boundTo: string): DeviceRecord[] {
      return rows.all(nameKey, boundTo).map((row) => ({
        identityKey: row.identity_key,
        links: v.parse(DeviceLinksSchema, JSON.parse(row.links)),
        linkedAt: row.linked_at,
      }))
    },
    isDevice: (identityKey: string, nameKey: string, boundTo: string) =>
      isDevice.get(identityKey, nameKey, boundTo) !== null,
    /** Whether the key holds a name or is a device of one: no key is two devices. */
    inUse: (identityKey: string) => inUse.get(identityKey, identityKey) !== null,
    add(
      identityKey: string,
      nameKey: string,
      boundTo: string,
      links: readonly DeviceLink[],
      at: number,
    ) {
      insert.run(identityKey, nameKey, boundTo, JSON.stringify(links), at)
      forgetUnlinked.run(identityKey)
    },
    unlink: db.transaction((identityKey: string, nameKey: string): boolean => {
      if (remove.run(identityKey, nameKey).changes === 0) return false
      rememberUnlinked.run(identityKey, nameKey, Date.now())
      return true
    }),
    wasUnlinked: (identityKey: string, nameKey: string) =>
      unlinkedFrom.get(identityKey, nameKey) !== null,
    forgetAll: (nameKey: string) => removeAll.run(nameKey),
    /** The devices of names no longer bound to the key they were linked under (names that lapsed). */
    forgetOrphans: () => removeOrphans.run(),
  }
}
