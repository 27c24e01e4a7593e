// Name bindings in bun:sqlite: name → identity key, one name to a skeleton, bindings never used in
// the group lapsing after a while, and the devices linked to each name (sqlite-devices.ts). Both
// lookups a claim makes are index hits.
import type { Database } from 'bun:sqlite'
import type { DeviceLink, Member } from '../../../shared/protocol/frames.ts'
import { nameKey, nameSkeleton } from '../../../shared/protocol/names.ts'
import { deviceLinks } from '../room/device-book.ts'
import type {
  ClaimResult,
  ClaimTerms,
  IdentityStore,
  LinkResult,
  NameBinding,
} from '../room/ports.ts'
import { openSqliteDevices } from './sqlite-devices.ts'

/**
 * `confirmed_at` is null until the holder is in the group. `skeleton` is not unique: bindings made
 * before skeletons were compared may share one, and each keeps its name.
 */
const IDENTITIES_TABLE = `
  CREATE TABLE IF NOT EXISTS identities (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    identity_key TEXT NOT NULL,
    bound_at INTEGER NOT NULL,
    skeleton TEXT,
    confirmed_at INTEGER
  ) WITHOUT ROWID`

/** Identity keys the admin banned, with the name each held then (to unban it by). */
const BANS_TABLE = `
  CREATE TABLE IF NOT EXISTS bans (
    identity_key TEXT PRIMARY KEY,
    name_key TEXT NOT NULL,
    banned_at INTEGER NOT NULL
  ) WITHOUT ROWID`

/** Admins' invites not taken yet: the digest of each code, never the code. */
const INVITES_TABLE = `
  CREATE TABLE IF NOT EXISTS invites (
    code_digest TEXT PRIMARY KEY,
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID`

const INDEXES = `
  CREATE INDEX IF NOT EXISTS identities_skeleton ON identities (skeleton);
  CREATE INDEX IF NOT EXISTS identities_unconfirmed ON identities (bound_at)
    WHERE confirmed_at IS NULL;`

/**
 * Before schema 3 a row held (name_key, name, identity_key, bound_at). Whether those names were
 * used in the group is not known, and a member's name must never lapse: they count as confirmed.
 */
function migrate(db: Database): void {
  const columns = db.query<{ name: string }, []>('PRAGMA table_info(identities)').all()
  if (columns.some((column) => column.name === 'skeleton')) return
  db.transaction(() => {
    db.run('ALTER TABLE identities ADD COLUMN skeleton TEXT')
    db.run('ALTER TABLE identities ADD COLUMN confirmed_at INTEGER')
    db.run('UPDATE identities SET confirmed_at = bound_at')
    const setSkeleton = db.query('UPDATE identities SET skeleton = ? WHERE name_key = ?')
    const rows = db.query<{ name_key: string }, []>('SELECT name_key FROM identities').all()
    for (const { name_key } of rows) setSkeleton.run(nameSkeleton(name_key), name_key)
  })()
}

export function openSqliteIdentities(db: Database): IdentityStore {
  db.run(IDENTITIES_TABLE)
  migrate(db)
  db.run(INDEXES)
  db.run(BANS_TABLE)
  db.run(INVITES_TABLE)
  const devices = openSqliteDevices(db)

  const byName = db.query<{ identity_key: string; bound_at: number }, [string]>(
    'SELECT identity_key, bound_at FROM identities WHERE name_key = ?',
  )
  const bySkeleton = db.query<{ found: 1 }, [string]>(
    'SELECT 1 AS found FROM identities WHERE skeleton = ? LIMIT 1',
  )
  const insert = db.query(
    'INSERT INTO identities (name_key, name, identity_key, bound_at, skeleton) VALUES (?, ?, ?, ?, ?)',
  )
  const lapse = db.query('DELETE FROM identities WHERE confirmed_at IS NULL AND bound_at < ?')
  // The name's own key, or a device linked to it: either way the name is in use.
  const confirmOne = db.query(
    'UPDATE identities SET confirmed_at = ? WHERE name_key = ? AND (identity_key = ? OR EXISTS (SELECT 1 FROM devices WHERE devices.identity_key = ? AND devices.name_key = identities.name_key AND devices.name_key_of = identities.identity_key))',
  )

  const claim = db.transaction(
    (name: string, identityKey: string, at: number, terms: ClaimTerms): ClaimResult => {
      // The lapsed go first, so a name squatted and never used is free to whoever asks next.
      if (terms.unusedBefore !== undefined && lapse.run(terms.unusedBefore).changes > 0) {
        // Their devices go with them, as with a release.
        devices.forgetOrphans()
      }
      const key = nameKey(name)
      const held = byName.get(key)
      if (held) {
        if (held.identity_key === identityKey) return 'known'
        return devices.isDevice(identityKey, key, held.identity_key) ? 'known' : 'conflict'
      }
      const skeleton = nameSkeleton(name)
      if (bySkeleton.get(skeleton)) return 'confusable'
      if (terms.mayBind === false) return 'limited'
      insert.run(key, name, identityKey, at, skeleton)
      return 'new'
    },
  )
  const all = db.query<
    { name: string; identity_key: string; bound_at: number; confirmed_at: number | null },
    []
  >('SELECT name, identity_key, bound_at, confirmed_at FROM identities')
  const free = db.query('DELETE FROM identities WHERE name_key = ?')
  const addBan = db.query(
    'INSERT OR IGNORE INTO bans (identity_key, name_key, banned_at) VALUES (?, ?, ?)',
  )
  const liftBans = db.query('DELETE FROM bans WHERE name_key = ?')
  const banned = db.query<{ found: 1 }, [string]>(
    'SELECT 1 AS found FROM bans WHERE identity_key = ?',
  )
  const dropExpiredInvites = db.query('DELETE FROM invites WHERE expires_at <= ?')
  const insertInvite = db.query(
    'INSERT INTO invites (code_digest, name_key, name, expires_at) VALUES (?, ?, ?, ?)',
  )
  // One statement: of two takers of the same invite, only one gets its row back.
  const takeInvite = db.query<{ name: string; expires_at: number }, [string, string, number]>(
    'DELETE FROM invites WHERE code_digest = ? AND name_key = ? AND expires_at > ? RETURNING name, expires_at',
  )
  const link = db.transaction(
    (name: string, device: string, approval: DeviceLink, at: number): LinkResult => {
      const key = nameKey(name)
      const held = byName.get(key)
      if (!held) return { kind: 'refused', reason: 'unbound' }
      const decided = deviceLinks(held.identity_key, devices.of(key, held.identity_key), approval)
      if (decided.kind !== 'linked') return decided
      if (devices.inUse(device)) return { kind: 'refused', reason: 'taken' }
      devices.add(device, key, held.identity_key, decided.links, at)
      return decided
    },
  )
  const banDevices = db.transaction((name: string, at: number): string | null => {
    const key = nameKey(name)
    const held = byName.get(key)
    if (!held) return null
    addBan.run(held.identity_key, key, at)
    for (const device of devices.of(key, held.identity_key)) addBan.run(device.identityKey, key, at)
    return held.identity_key
  })
  const freeName = db.transaction((name: string): boolean => {
    devices.forgetAll(nameKey(name))
    return free.run(nameKey(name)).changes > 0
  })
  const confirm = db.transaction((members: readonly Member[], at: number) => {
    for (const { name, identityKey } of members) {
      confirmOne.run(at, nameKey(name), identityKey, identityKey)
    }
  })

  return {
    claim: (name, identityKey, at, terms = {}) => claim(name, identityKey, at, terms),
    confirm(members, at) {
      confirm(members, at)
    },
    release: (name) => freeName(name),
    ban: (name, at) => banDevices(name, at),
    linkDevice: (name, device, approval, at) => link(name, device, approval, at),
    devices(name) {
      const key = nameKey(name)
      const held = byName.get(key)
      if (!held) return []
      const first = { identityKey: held.identity_key, links: [], linkedAt: held.bound_at }
      return [first, ...devices.of(key, held.identity_key)]
    },
    unlinkDevice: (name, device) => devices.unlink(device, nameKey(name)),
    wasUnlinked: (name, device) => devices.wasUnlinked(device, nameKey(name)),
    unban: (name) => liftBans.run(nameKey(name)).changes > 0,
    isBanned: (identityKey) => banned.get(identityKey) !== null,
    addInvite(invite) {
      insertInvite.run(invite.codeDigest, nameKey(invite.name), invite.name, invite.expiresAt)
    },
    takeInvite(codeDigest, name, at) {
      dropExpiredInvites.run(at)
      const row = takeInvite.get(codeDigest, nameKey(name), at)
      return row && { codeDigest, name: row.name, expiresAt: row.expires_at }
    },
    bindings: (): NameBinding[] =>
      all.all().map((row) => ({
        name: row.name,
        identityKey: row.identity_key,
        boundAt: row.bound_at,
        confirmedAt: row.confirmed_at,
      })),
  }
}
