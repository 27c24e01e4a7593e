// The group as the Delivery Service holds it, and what an accepted founding or commit makes of
// it: the record to store, the frame to log, the Welcome each newcomer gets. Pure but for hashing;
// nothing is stored or sent here.
import type { CheckedCommit } from '../../../shared/mls/commit-check.ts'
import {
  decodePublicGroup,
  encodePublicGroup,
  epochDigest,
  leavesOf,
  type PublicGroup,
} from '../../../shared/mls/public-group.ts'
import { decodeBase64url, encodeBase64url } from '../../../shared/protocol/base64url.ts'
import type {
  CommitDeliverFrame,
  GroupStatus,
  Member,
  ServerFrame,
} from '../../../shared/protocol/frames.ts'
import type { ServerEvent } from '../observe/events.ts'
import type { CommitInput, GroupRecord } from './ports.ts'

type WelcomeFrame = Extract<ServerFrame, { type: 'welcome' }>

/** The group as the Delivery Service holds it: its record and the public state it follows. */
export interface CurrentGroup {
  readonly record: GroupRecord
  readonly view: PublicGroup
  /** The leaves by identity key: one name may have several devices, each its own leaf. */
  readonly members: ReadonlyMap<string, Member>
}

/**
 * The group as stored. Throws when the stored state cannot be read. A roster stored before leaves
 * were keyed by identity key holds names: it is read again from the state.
 */
export function currentGroup(stored: GroupRecord): CurrentGroup {
  const view = decodePublicGroup(decodeBase64url(stored.state))
  const roster = rosterKeyed(stored)
    ? stored.roster
    : leavesOf(view.tree).map((leaf) => leaf.identityKey)
  return followed({ ...stored, roster }, view)
}

/**
 * The stored record with a roster of keys: as stored, unless it was stored before leaves were
 * keyed (names), when only the group's state can say. Decodes the state only then: a join asks it.
 */
export function currentRecord(stored: GroupRecord): GroupRecord {
  return rosterKeyed(stored) ? stored : currentGroup(stored).record
}

function rosterKeyed(stored: GroupRecord): boolean {
  return stored.roster.every((entry) => IDENTITY_KEY.test(entry))
}

/** An identity key as a roster holds it; a name (at most 24 characters) never matches. */
const IDENTITY_KEY = /^[A-Za-z0-9_-]{43}$/

/** The group at `record`, following `view`. */
export function followed(record: GroupRecord, view: PublicGroup): CurrentGroup {
  const members = new Map<string, Member>()
  for (const { name, identityKey } of leavesOf(view.tree)) {
    members.set(identityKey, { name, identityKey })
  }
  return { record, view, members }
}

/** What members are told of the group (never its state). */
export function statusOf(record: GroupRecord): GroupStatus {
  return { groupId: record.groupId, epoch: record.epoch, roster: [...record.roster] }
}

/** The encryption keys of the tree's leaves: a KeyPackage whose key is among them was added. */
export function leafEncryptionKeys(view: PublicGroup): Set<string> {
  const keys = new Set<string>()
  for (const node of view.tree) {
    if (node?.nodeType === 'leaf') keys.add(encodeBase64url(node.leaf.hpkePublicKey))
  }
  return keys
}

/** The record of a group the server follows from `view`, at `epoch`. */
export function groupRecord(groupId: string, epoch: number, view: PublicGroup): GroupRecord {
  return {
    groupId,
    epoch,
    roster: leavesOf(view.tree).map((leaf) => leaf.identityKey),
    state: encodeBase64url(encodePublicGroup(view)),
  }
}

/** The next record and the frame to log for a commit that passed its checks. */
export function acceptedCommit(
  current: GroupRecord,
  checked: CheckedCommit,
  from: string,
  input: CommitInput,
  at: number,
): { record: GroupRecord; frame: Omit<CommitDeliverFrame, 'seq'> } {
  return {
    record: groupRecord(current.groupId, current.epoch + 1, checked.next),
    frame: {
      type: 'commit',
      from,
      at,
      epoch: input.epoch,
      commit: input.commit,
      adds: checked.added.map(({ name, identityKey }) => ({ name, identityKey })),
      removes: input.removes,
    },
  }
}

/** The operator's event for an accepted commit: who made it, the new epoch, how many it changed. */
export function commitAccepted(
  record: GroupRecord,
  frame: Omit<CommitDeliverFrame, 'seq'>,
  latencyMs: number,
): ServerEvent {
  const [adds, removes, size] = [frame.adds.length, frame.removes.length, record.roster.length]
  return {
    event: 'commit_accepted',
    committer: frame.from,
    epoch: record.epoch,
    adds,
    removes,
    size,
    latencyMs,
  }
}

/**
 * The Welcome for the members a commit added, with what they check it against: every leaf of the
 * group with its bound key, and the digest of the epoch the server followed.
 */
export async function welcomeFrame(
  next: PublicGroup,
  from: string,
  seq: number,
  welcome: string,
): Promise<WelcomeFrame> {
  return {
    type: 'welcome',
    from,
    seq,
    welcome,
    roster: leavesOf(next.tree).map(({ name, identityKey }) => ({ name, identityKey })),
    epochDigest: await epochDigest(next.context, next.confirmationTag),
  }
}
