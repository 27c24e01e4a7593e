// --export-identity and --import-identity: the identity kept for one server, to and from a
// backup file sealed with a passphrase (shared/client/identity-backup.ts, the page's format too).
// Knows the file system and the prompt; nothing of TLS or chat.
import { readFile, writeFile } from 'node:fs/promises'
import * as clack from '@clack/prompts'
import { createFileStores } from '../../shared/client/file-stores.ts'
import {
  type BackupContent,
  IdentityBackupError,
  openIdentityBackup,
  sealIdentityBackup,
} from '../../shared/client/identity-backup.ts'
import { keyFingerprint } from '../../shared/crypto/fingerprint.ts'

/** Any reason an export or import cannot go on, in words for the user. */
export class IdentityFileError extends Error {}

export interface PassphraseSource {
  /** CHATBOX_IDENTITY_PASSPHRASE, for scripts: asked for on a terminal otherwise. */
  readonly fromEnv: string | undefined
  readonly interactive: boolean
}

async function passphrase(source: PassphraseSource, confirm: boolean): Promise<string> {
  if (source.fromEnv !== undefined && source.fromEnv !== '') return source.fromEnv
  if (!source.interactive) {
    throw new IdentityFileError(
      'no passphrase: set CHATBOX_IDENTITY_PASSPHRASE or run on a terminal',
    )
  }
  const first = await clack.password({ message: 'Passphrase for the backup' })
  if (clack.isCancel(first) || first === '') throw new IdentityFileError('no passphrase given')
  if (!confirm) return first
  const again = await clack.password({ message: 'The same passphrase again' })
  if (clack.isCancel(again) || again !== first) {
    throw new IdentityFileError('the two passphrases differ; nothing was written')
  }
  return first
}

/** Writes the identity kept in `stateDir` to `file` (0600, never over an existing file). */
export async function exportIdentity(
  stateDir: string,
  file: string,
  name: string | undefined,
  source: PassphraseSource,
): Promise<string> {
  const identity = await createFileStores(stateDir).identity.load()
  if (!identity) {
    throw new IdentityFileError(
      `no identity kept for this server yet (${stateDir}): join once first`,
    )
  }
  const text = await sealIdentityBackup({ identity, name }, await passphrase(source, true))
  try {
    await writeFile(file, text, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    throw new IdentityFileError(`cannot write ${file}: ${(error as Error).message}`)
  }
  return `identity ${await keyFingerprint(identity.publicKey)} saved to ${file}`
}

/** Opens a backup; throws IdentityFileError with the reason (wrong passphrase, damaged file). */
export async function readIdentityFile(
  file: string,
  source: PassphraseSource,
): Promise<BackupContent> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new IdentityFileError(`cannot read ${file}: ${(error as Error).message}`)
  }
  try {
    return await openIdentityBackup(text, await passphrase(source, false))
  } catch (error) {
    if (error instanceof IdentityBackupError)
      throw new IdentityFileError(`${file}: ${error.message}`)
    throw error
  }
}

/**
 * Keeps the restored identity for the server in `stateDir`. Another identity already there is
 * never overwritten: it may be the only copy of a name.
 */
export async function installIdentity(stateDir: string, content: BackupContent): Promise<void> {
  const stores = createFileStores(stateDir)
  const current = await stores.identity.load()
  if (current?.publicKey === content.identity.publicKey) return
  if (current) {
    throw new IdentityFileError(
      `another identity (${await keyFingerprint(current.publicKey)}) is kept for this server in ` +
        `${stateDir}; export it first if you need it, move that directory aside, and import again`,
    )
  }
  await stores.group.clear()
  await stores.identity.save(content.identity)
}
