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
  ownLeafIndex,
  type PeerKeyPackage,
  readKeyPackage,
} from './mls.ts'
import { observePerson, personProblem, type Self } from './person-keys.ts'
import type { TrustBook } from './trust-book.ts'

type CommitRequest = Extract<ServerFrame, { type: 'commit-request' }>

export interface MadeCommit {
  readonly frame: Extract<ClientFrame, { type: 'commit' }>
  /** The group as it is once the server accepts the commit; merged only then. */
  readonly state: ClientState
}

/**
 * One commit for the request: the adds whose KeyPackages name the newcomer and carry a key this
 * user does not know otherwise (a changed key is announced and its add refused), the old leaf of
 * each device that rejoins (the leaf with its KeyPackage's key), and the leaves asked removed by
 * key. Another leaf of the same name is another device of that person, and stays. Undefined when
 * that changes nothing.
 */
export async function makeCommit(
  group: ClientState,
  request: CommitRequest,
  context: { readonly trust: TrustBook; readonly hub: EventHub; self(): Self },
): Promise<MadeCommit | undefined> {
  const { trust, hub } = context
  const self = context.self()
  const members = membersOf(group)
  const ownKey = members.find((member) => member.leafIndex === ownLeafIndex(group))?.identityKey
  const accepted: PeerKeyPackage[] = []
  for (const add of request.add) {
    try {
      const peer = await readKeyPackage(decodeBase64url(add.keyPackage))
      if (nameKey(peer.name) !== nameKey(add.name)) throw new Error(`it names ${peer.name}`)
      // Our own leaf stays, so a second leaf with its key would only make a commit all refuse.
      if (peer.identityKey === ownKey) throw new Error("it carries this client's own key")
      const seen = await observePerson(trust, self, peer, true)
      const problem = personProblem(seen, peer)
      if (problem) throw new Error(problem)
      if (seen === 'changed') {
        announceKeyChange(peer.name, trust, hub)
        throw new Error('its key differs from the one known for that name')
      }
      accepted.push(peer)
    } catch (error) {
      hub.warn('refused_add', `not adding ${add.name}: ${(error as Error).message}`)
    }
  }
  const removeKeys = new Set(request.remove)
  for (const peer of accepted) removeKeys.add(peer.identityKey)
  const removed = members.filter(
    (member) => removeKeys.has(member.identityKey) && member.identityKey !== ownKey,
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
      adds: accepted.map((peer) => peer.identityKey),
      removes: removed.map((member) => member.identityKey),
    },
  }
}

/** Tells the views that `peer`'s key changed, with what the trust book recorded of it. */
export function announceKeyChange(peer: string, trust: TrustBook, hub: EventHub): void {
  const change = trust.pendingChanges().find((item) => nameKey(item.name) === nameKey(peer))
  if (change) hub.emit({ type: 'key-change', ...change })
}
