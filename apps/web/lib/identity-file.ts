// "Back up my key" and "Restore" on the page: the identity this browser keeps for a name, to and
// from the backup file both clients share (shared/client/identity-backup.ts). Storage and the
// download here; nothing of the session.
import {
  type BackupContent,
  openIdentityBackup,
  sealIdentityBackup,
} from '../../../shared/client/identity-backup.ts'
import { openIndexedDbStores } from '../../../shared/client/indexeddb-stores.ts'
import { checkName } from '../../../shared/protocol/names.ts'
import { saveTextFile } from './download.ts'

/** A reason shown to the user as is. */
export class IdentityFileError extends Error {}

/** Seals the identity kept for `name` and downloads it as `chatbox-identity-NAME.json`. */
export async function backUpIdentity(name: string, passphrase: string): Promise<void> {
  const stores = await openIndexedDbStores(name)
  try {
    const identity = await stores.identity.load()
    if (!identity) throw new IdentityFileError(`This browser keeps no key for ${name}.`)
    const text = await sealIdentityBackup({ identity, name }, passphrase)
    // checkName allows only [A-Za-z0-9_-], so the name is a safe file name as it is.
    saveTextFile(`chatbox-identity-${name}.json`, new TextEncoder().encode(text))
  } finally {
    stores.close()
  }
}

/**
 * Keeps the identity in a backup for the name saved in it (or `fallbackName`); resolves with that
 * name. Another key already kept here for the name is never overwritten.
 */
export async function restoreIdentity(
  file: Blob,
  passphrase: string,
  fallbackName: string,
): Promise<string> {
  const content: BackupContent = await openIdentityBackup(await file.text(), passphrase)
  const name = content.name ?? fallbackName
  if (!checkName(name).ok) {
    throw new IdentityFileError('The backup names nobody: type the name it belongs to first.')
  }
  const stores = await openIndexedDbStores(name)
  try {
    const current = await stores.identity.load()
    if (current?.publicKey === content.identity.publicKey) return name
    if (current) {
      throw new IdentityFileError(
        `This browser already keeps another key for ${name}; it was left as it is.`,
      )
    }
    await stores.group.clear()
    await stores.identity.save(content.identity)
    return name
  } finally {
    stores.close()
  }
}
