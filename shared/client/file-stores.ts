// Client stores as private JSON files in one directory per server, for Bun and Node; knows
// nothing of sockets, MLS or the browser, and never trusts what it reads back from disk.
import { readFile, rm } from 'node:fs/promises'
import { homedir } from 'node:os'
import path from 'node:path'
import * as v from 'valibot'
import { nameKey } from '../protocol/names.ts'
import { createFileHistoryStore } from './file-history-store.ts'
import { isErrnoException, serialize, writeTextAtomic } from './private-files.ts'
import {
  type ClientStores,
  type GroupSnapshot,
  GroupSnapshotSchema,
  type GroupStateStore,
  type IdentityStore,
  type StoredIdentity,
  StoredIdentitySchema,
  type TrustRecord,
  TrustRecordSchema,
  type TrustStore,
} from './stores.ts'

const IDENTITY_FILE = 'identity.json'
const TRUST_FILE = 'trust.json'
const GROUP_FILE = 'group.json'

/** A store file exists but cannot be used; the message tells the user how to recover. */
export class DamagedStoreError extends Error {
  override readonly name = 'DamagedStoreError'
  constructor(
    readonly file: string,
    reason: string,
    recovery: string,
    options?: ErrorOptions,
  ) {
    super(`${file} is damaged (${reason}); ${recovery}`, options)
  }
}

export function createFileStores(dir: string): ClientStores {
  return {
    identity: createFileIdentityStore(path.join(dir, IDENTITY_FILE)),
    trust: createFileTrustStore(path.join(dir, TRUST_FILE)),
    group: createFileGroupStore(path.join(dir, GROUP_FILE)),
    history: createFileHistoryStore(dir),
  }
}

/**
 * The directory for one server's state: `<configHome>/chatbox/servers/<server>`, where the
 * server address is reduced to [A-Za-z0-9._-] so that `[::1]:8444` or `../../etc` can neither
 * break the path nor climb out of the servers directory.
 */
export function clientStateDir(configHome: string, server: string): string {
  let safe = server.replace(/[^A-Za-z0-9._-]/g, '_')
  // With every separator gone, only a name that is nothing but `.` or `..` could still escape.
  if (safe === '' || safe === '.' || safe === '..') safe = '_'.repeat(Math.max(1, safe.length))
  return path.join(configHome, 'chatbox', 'servers', safe)
}

/** `$XDG_CONFIG_HOME`, or `~/.config`; the XDG spec says a relative value is to be ignored. */
export function defaultConfigHome(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const xdg = env.XDG_CONFIG_HOME
  if (xdg !== undefined && path.isAbsolute(xdg)) return xdg
  return path.join(homedir(), '.config')
}

function createFileIdentityStore(file: string): IdentityStore {
  const recovery =
    'restore it from a backup or delete it to start over with a new identity ' +
    '(peers will see a key change)'
  return {
    load: () => serialize(file, () => readJson(file, StoredIdentitySchema, recovery)),
    save: (identity: StoredIdentity) =>
      serialize(file, () => writeJsonAtomic(file, v.parse(StoredIdentitySchema, identity))),
  }
}

// trust.json is an object keyed by nameKey, but it is read into a Map: names like `constructor`
// are valid, and valibot's record() silently drops such keys, which would forget a peer's key
// and let a substituted one pass as a first sighting.
const TrustFileSchema = v.pipe(
  v.custom<Record<string, unknown>>(
    (input) => typeof input === 'object' && input !== null && !Array.isArray(input),
    'Invalid type: Expected an object keyed by name',
  ),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const records = new Map<string, TrustRecord>()
    for (const [key, value] of Object.entries(dataset.value)) {
      const result = v.safeParse(TrustRecordSchema, value)
      if (!result.success) {
        addIssue({ message: `${key}: ${describeIssue(result.issues[0])}` })
        return NEVER
      }
      if (key !== nameKey(result.output.name)) {
        addIssue({ message: `${key}: the record is filed under a key other than its name` })
        return NEVER
      }
      records.set(key, result.output)
    }
    return records
  }),
)

function createFileTrustStore(file: string): TrustStore {
  const recovery =
    'restore it from a backup or delete it to forget the keys seen so far ' +
    '(every peer will be trusted anew on first use)'
  const load = async (): Promise<Map<string, TrustRecord>> =>
    (await readJson(file, TrustFileSchema, recovery)) ?? new Map()
  return {
    get: (name) => serialize(file, async () => (await load()).get(nameKey(name))),
    // Read-modify-write inside the queue, so two puts in flight cannot lose each other's record.
    put: (record) =>
      serialize(file, async () => {
        const records = await load()
        records.set(nameKey(record.name), v.parse(TrustRecordSchema, record))
        await writeJsonAtomic(file, Object.fromEntries(records))
      }),
    list: () => serialize(file, async () => [...(await load()).values()]),
  }
}

function createFileGroupStore(file: string): GroupStateStore {
  const recovery = 'delete it to rejoin the room as a newcomer'
  return {
    load: () => serialize(file, () => readJson(file, GroupSnapshotSchema, recovery)),
    save: (snapshot: GroupSnapshot) =>
      serialize(file, () => writeJsonAtomic(file, v.parse(GroupSnapshotSchema, snapshot))),
    clear: () => serialize(file, () => rm(file, { force: true })),
  }
}

async function readJson<TSchema extends v.GenericSchema>(
  file: string,
  schema: TSchema,
  recovery: string,
): Promise<v.InferOutput<TSchema> | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return undefined
    throw error
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new DamagedStoreError(file, 'not valid JSON', recovery, { cause: error })
  }
  const result = v.safeParse(schema, json)
  if (!result.success) {
    throw new DamagedStoreError(file, describeIssue(result.issues[0]), recovery)
  }
  return result.output
}

function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeTextAtomic(file, `${JSON.stringify(value, null, 2)}\n`)
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const at = v.getDotPath(issue)
  return at === null ? issue.message : `${at}: ${issue.message}`
}
