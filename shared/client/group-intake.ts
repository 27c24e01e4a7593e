// What a client takes into its group, after its checks: a Welcome, or a commit from the log. The
// verdict says why something is refused ('invalid': MLS or the checks failed; 'key_change': a leaf
// contradicts the user's trusted keys, which is then recorded for the user to decide). Nothing here
// sends, saves or shows anything but the key change.
import { epochDigest } from '../mls/public-group.ts'
import { decodeBase64url } from '../protocol/base64url.ts'
import type { CommitDeliverFrame, ServerFrame } from '../protocol/frames.ts'
import { announceKeyChange } from './committer.ts'
import type { EventHub } from './event-hub.ts'
import { commitProblem, welcomeProblem } from './group-checks.ts'
import {
  applyCommit,
  type ClientState,
  type CommitEffect,
  type GroupMember,
  isRemoved,
  joinFromWelcome,
  membersOf,
  type OwnKeyPackage,
} from './mls.ts'
import { observePerson, personProblem, type Self } from './person-keys.ts'
import type { TrustBook } from './trust-book.ts'

type WelcomeFrame = Extract<ServerFrame, { type: 'welcome' }>

export type Intake<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: 'invalid' | 'key_change'; readonly message: string }

export interface PinContext {
  readonly trust: TrustBook
  readonly hub: EventHub
  /** This client's name, key and person key: its own leaf is not checked, its other devices are. */
  readonly self: () => Self
}

/**
 * Joins from a Welcome only if the tree is exactly the server's roster, the epoch the one the
 * server followed, and no leaf contradicts the user's pins. Checked before anything is pinned: a
 * Welcome into a copy of the group must leave no trace in the trust book.
 */
export async function takeWelcome(
  frame: WelcomeFrame,
  keyPackage: OwnKeyPackage,
  pins: PinContext,
): Promise<Intake<ClientState>> {
  let joined: ClientState
  try {
    joined = await joinFromWelcome(decodeBase64url(frame.welcome), keyPackage)
  } catch (error) {
    const reason = (error as Error).message
    return invalid(`the Welcome from ${frame.from} could not be used: ${reason}`)
  }
  const digest = await epochDigest(joined.groupContext, joined.confirmationTag)
  const problem =
    welcomeProblem(membersOf(joined), frame.roster) ??
    (digest === frame.epochDigest
      ? undefined
      : "it puts this client in another state of the group than the server's")
  if (problem) return invalid(`refused the Welcome from ${frame.from}: ${problem}`)
  const refused = await personRefusal(membersOf(joined), pins, 'did not join')
  return refused ?? { ok: true, value: joined }
}

/** Applies a commit only if it adds and removes what the server says and every leaf is bound. */
export async function takeCommit(
  group: ClientState,
  frame: CommitDeliverFrame,
  pins: PinContext,
): Promise<Intake<CommitEffect>> {
  let effect: CommitEffect
  try {
    effect = await applyCommit(group, decodeBase64url(frame.commit))
  } catch (error) {
    const reason = (error as Error).message
    return invalid(`${frame.from}'s commit #${frame.seq} could not be applied: ${reason}`)
  }
  if (isRemoved(effect.state)) return { ok: true, value: effect }
  const change = {
    before: membersOf(group),
    after: membersOf(effect.state),
    added: effect.added,
    removed: effect.removed,
  }
  const problem = commitProblem(change, frame)
  if (problem) return invalid(`refused ${frame.from}'s commit #${frame.seq}: ${problem}`)
  const refused = await personRefusal(effect.added, pins, 'left the group')
  return refused ?? { ok: true, value: effect }
}

/**
 * The first leaf that is not the person the user trusts for its name: approvals that do not
 * verify, a device under this client's own name its devices never approved ('invalid'), or a key
 * other than the trusted one ('key_change', recorded for the user to decide).
 */
async function personRefusal(
  leaves: readonly GroupMember[],
  { trust, hub, self }: PinContext,
  outcome: string,
): Promise<Intake<never> | undefined> {
  const own = self()
  for (const leaf of leaves) {
    if (leaf.identityKey === own.identityKey) continue
    const seen = await observePerson(trust, own, leaf, false)
    const problem = personProblem(seen, leaf)
    if (problem) return invalid(`${outcome}: ${problem}`)
    if (seen !== 'changed') continue
    await observePerson(trust, own, leaf, true)
    announceKeyChange(leaf.name, trust, hub)
    const message = `${outcome}: the key of ${leaf.name} is not the one you trust; accept it to join again`
    return { ok: false, reason: 'key_change', message }
  }
  return undefined
}

function invalid(message: string): Intake<never> {
  return { ok: false, reason: 'invalid', message }
}
