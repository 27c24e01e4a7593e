// The committer's part: turns a `commit-request` into one MLS commit, adding only the newcomers
// whose KeyPackages name them with the keys this user trusts. It sends nothing and keeps no state.
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.ts'
import type { ClientFrame, ServerFrame } from '../protocol/frames.ts'
import { nameKey } from '../protocol/names.ts'
import type { EventHub } from './event-hub.ts'
import {
  type ClientState,
  commitChanges,
  membersOf,
  type PeerKeyPackage,
  readKeyPackage,
} from './mls.ts'
import type { TrustBook } from './trust-book.ts'

type CommitRequest = Extract<ServerFrame, { type: 'commit-request' }>

export interface MadeCommit {
  readonly frame: Extract<ClientFrame, { type: 'commit' }>
  /** The group as it is once the server accepts the commit; merged only then. */
  readonly state: ClientState
}

/**
 * One commit for the request: the adds whose KeyPackages name the newcomer and carry a key this
 * user does not know otherwise (a changed key is announced and its add refused), the old leaves of
 * those who rejoin, and the removals asked for. Undefined when that changes nothing.
 */
export async function makeCommit(
  group: ClientState,
  request: CommitRequest,
  context: { readonly name: string; readonly trust: TrustBook; readonly hub: EventHub },
): Promise<MadeCommit | undefined> {
  const { name, trust, hub } = context
  const members = membersOf(group)
  const accepted: PeerKeyPackage[] = []
  for (const add of request.add) {
    try {
      const peer = await readKeyPackage(decodeBase64url(add.keyPackage))
      if (nameKey(peer.name) !== nameKey(add.name)) throw new Error(`it names ${peer.name}`)
      if ((await trust.observe(peer.name, peer.identityKey)) === 'changed') {
        announceKeyChange(peer.name, trust, hub)
        throw new Error('its key differs from the one known for that name')
      }
      accepted.push(peer)
    } catch (error) {
      hub.warn('refused_add', `not adding ${add.name}: ${(error as Error).message}`)
    }
  }
  const removeNames = new Set(request.remove.map(nameKey))
  for (const peer of accepted) removeNames.add(nameKey(peer.name))
  const removed = members.filter(
    (member) => removeNames.has(nameKey(member.name)) && member.name !== name,
  )
  if (accepted.length === 0 && removed.length === 0) return undefined
  const result = await commitChanges(group, {
    add: accepted.map((peer) => peer.keyPackage),
    removeLeaves: removed.map((member) => member.leafIndex),
  })
  return {
    state: result.state,
    frame: {
      type: 'commit',
      epoch: request.epoch,
      commit: encodeBase64url(result.commit),
      welcome: result.welcome ? encodeBase64url(result.welcome) : undefined,
      adds: accepted.map((peer) => peer.name),
      removes: removed.map((member) => member.name),
    },
  }
}

/** Tells the views that `peer`'s key changed, with what the trust book recorded of it. */
export function announceKeyChange(peer: string, trust: TrustBook, hub: EventHub): void {
  const change = trust.pendingChanges().find((item) => nameKey(item.name) === nameKey(peer))
  if (change) hub.emit({ type: 'key-change', ...change })
}
