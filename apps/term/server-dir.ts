// Which directory holds the client's state for a server: one per server identity (its key's SPKI
// SHA-256), whatever address reached it, so `localhost:8444` and `127.0.0.1:8444` share one
// identity. Each address used is a symlink to it, which also carries the state across a
// certificate renewal that changed the key. Knows nothing of TLS or chat.
import { existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, symlinkSync } from 'node:fs'
import path from 'node:path'
import { clientStateDir } from '../../shared/client/file-stores.ts'

/**
 * `<configHome>/chatbox/servers/<serverId>`, created or adopted: a directory from before (named
 * by address, holding an identity) is moved here once and its old name linked to the new one.
 */
export function serverStateDir(configHome: string, label: string, serverId: string): string {
  if (!/^[0-9a-f]{64}$/.test(serverId)) throw new Error(`not a server identity: ${serverId}`)
  const byAddress = clientStateDir(configHome, label)
  const servers = path.dirname(byAddress)
  const byId = path.join(servers, serverId)
  mkdirSync(servers, { recursive: true, mode: 0o700 })
  const previous = lstatOrUndefined(byAddress)
  if (!existsSync(byId)) {
    if (previous?.isDirectory()) {
      // Per-address state from an older client: this server's identity from now on.
      renameSync(byAddress, byId)
    } else if (previous?.isSymbolicLink() && existsSync(byAddress)) {
      // The address was this client's before, under another key: the server's certificate was
      // renewed with a new key (TLS has verified it). Keep the identity it already knows.
      symlinkSync(readlinkSync(byAddress), byId)
    } else {
      mkdirSync(byId, { recursive: true, mode: 0o700 })
    }
  }
  if (!lstatOrUndefined(byAddress)) symlinkSync(serverId, byAddress)
  return byId
}

/** The state directory an address led to last time, without connecting; undefined if none. */
export function knownStateDir(configHome: string, label: string): string | undefined {
  const byAddress = clientStateDir(configHome, label)
  return existsSync(byAddress) ? byAddress : undefined
}

function lstatOrUndefined(file: string) {
  try {
    return lstatSync(file)
  } catch {
    return undefined
  }
}
