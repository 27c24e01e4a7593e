// One request of the Delivery Service to a member: the KeyPackages it may relay (checked and rate
// limited as they arrive) and what a commit frame may claim in answer. No timers, no frames sent.
import { checkKeyPackage } from '../../../shared/mls/commit-check.ts'
import { decodeBase64url, encodeBase64url } from '../../../shared/protocol/base64url.ts'
import type { ErrorFrame, Member } from '../../../shared/protocol/frames.ts'
import { COMMIT_REQUEST_KEY_PACKAGE_CHARS, REJOIN_RATE } from '../../../shared/protocol/limits.ts'
import { createTokenBucket, type TokenBucket } from '../../../shared/protocol/token-bucket.ts'
import type { CommitInput, GroupRecord } from './ports.ts'

export type Refusal = Readonly<Pick<ErrorFrame, 'code' | 'message'>>

/** A newcomer (or a member that lost its state) waiting to be added, with its checked KeyPackage. */
export interface PendingAdd extends Readonly<Member> {
  /** As the newcomer sent it, relayed to the committer as it is. */
  readonly keyPackage: string
  /** The KeyPackage's own encoding, which the commit's Add must carry byte for byte. */
  readonly encoded: Uint8Array
  /** Its leaf's encryption key: a leaf with this key in the tree means it was added. */
  readonly leafKey: string
}

export interface Request {
  readonly kind: 'found' | 'commit'
  readonly to: Member
  /** What a commit request asked for, as it was relayed: the commit is checked against this. */
  readonly adds: readonly PendingAdd[]
  /** The identity keys of the leaves to remove. */
  readonly removes: readonly string[]
  readonly timer: ReturnType<typeof setTimeout>
  /** When it was sent: the commit latency the operator's metrics show starts here. */
  readonly askedAt: number
}

/**
 * What the server can tell of a commit from its frame alone, before any MLS: it answers the
 * request out, from the member asked, at that epoch, and claims no more than was asked.
 */
export function claimsRefusal(
  group: Pick<GroupRecord, 'epoch' | 'roster'> | null,
  from: Member,
  input: CommitInput,
  request: Request | undefined,
): Refusal | undefined {
  if (!group) return { code: 'not_in_group', message: 'the room has no group yet' }
  if (request?.kind !== 'commit' || request.to.identityKey !== from.identityKey) {
    return { code: 'unrequested_commit', message: 'nobody asked you to commit' }
  }
  if (input.epoch !== group.epoch) {
    return { code: 'stale_epoch', message: `the group is at epoch ${group.epoch}` }
  }
  // Claims name leaves by identity key: one name may have several devices.
  const asked = new Map(request.adds.map((add) => [add.identityKey, add.name]))
  for (const key of input.adds) {
    const name = asked.get(key)
    if (name === undefined) {
      return { code: 'unrequested_commit', message: 'nobody asked to add one of its adds' }
    }
    if (group.roster.includes(key) && !input.removes.includes(key)) {
      return { code: 'unrequested_commit', message: `${name} rejoins: remove its old leaf too` }
    }
  }
  for (const key of input.removes) {
    if (!request.removes.includes(key)) {
      return { code: 'unrequested_commit', message: 'nobody asked to remove one of its removes' }
    }
  }
  if (
    new Set(input.adds).size !== input.adds.length ||
    new Set(input.removes).size !== input.removes.length
  ) {
    return { code: 'commit_mismatch', message: 'a leaf appears twice in the claims' }
  }
  if (input.adds.length === 0 && input.removes.length === 0) {
    return { code: 'unrequested_commit', message: 'an empty commit changes nothing here' }
  }
  if (input.adds.length > 0 && input.welcome === undefined) {
    return { code: 'bad_commit', message: 'the members it adds need a Welcome' }
  }
  return undefined
}

export type Admission =
  | { readonly ok: true; readonly value: PendingAdd }
  | ({ readonly ok: false } & Refusal)

/**
 * Admits KeyPackages as they arrive: each device may send REJOIN_RATE's burst, then one per refill
 * (each asks for a commit), and each must be small, well-formed, signed and the sender's own.
 */
export function createKeyPackageAdmission(now: () => number) {
  const buckets = new Map<string, TokenBucket>()
  return async (from: Member, keyPackage: string): Promise<Admission> => {
    const key = from.identityKey
    let bucket = buckets.get(key)
    if (!bucket) {
      bucket = createTokenBucket(REJOIN_RATE, now)
      buckets.set(key, bucket)
    }
    if (!bucket.take()) {
      const seconds = Math.ceil(1 / REJOIN_RATE.perSecond)
      return {
        ok: false,
        code: 'rejoin_limited',
        message: `too many requests to be added; send one again in ${seconds} s`,
      }
    }
    const checked = await checkKeyPackage(decodeBase64url(keyPackage), from)
    if (!checked.ok) return checked
    const { encoded, keyPackage: parsed } = checked.value
    return {
      ok: true,
      value: {
        ...from,
        keyPackage,
        encoded,
        leafKey: encodeBase64url(parsed.leafNode.hpkePublicKey),
      },
    }
  }
}

/**
 * Who is asked next: the first of `candidates` not passed over this round; when every one has
 * been, the round starts afresh with the first. Undefined when there is nobody to ask.
 */
export function nextAsked<Candidate extends Member>(
  candidates: readonly Candidate[],
  passedOver: Set<string>,
): Candidate | undefined {
  const fresh = candidates.find((member) => !passedOver.has(member.identityKey))
  if (fresh !== undefined || candidates.length === 0) return fresh
  passedOver.clear()
  return candidates[0]
}

/**
 * The waiting newcomers one commit-request relays: those whose KeyPackages fit the budget, oldest
 * first, and always the first. The rest wait for the next commit, so the request, the commit and
 * its Welcome fit every frame limit however many KeyPackages arrive at once.
 */
export function withinRequestBudget(adds: readonly PendingAdd[]): PendingAdd[] {
  let chars = 0
  return adds.filter((add, index) => {
    chars += add.keyPackage.length
    return index === 0 || chars <= COMMIT_REQUEST_KEY_PACKAGE_CHARS
  })
}
