// Admission: the room secret, hello → challenge → signed auth, and the claim on the name. Knows
// nothing of the members already in the room, the log, the Delivery Service or connections.
import { verifyIdentitySignature } from '../../../shared/crypto/identity-key.ts'
import { encodeBase64url } from '../../../shared/protocol/base64url.ts'
import {
  authMessage,
  type DeviceLink,
  type ErrorCode,
  type ErrorFrame,
  errorFrame,
  type HelloFrame,
  type Member,
} from '../../../shared/protocol/frames.ts'
import { inviteDigest } from '../../../shared/protocol/invites.ts'
import {
  type NameRate,
  SECRET_GUESS_LIMITS,
  type SecretGuessLimits,
} from '../../../shared/protocol/limits.ts'
import { checkName } from '../../../shared/protocol/names.ts'
import { type EventSink, ignoreEvents } from '../observe/events.ts'
import { type Allowance, createNameQuota } from './name-quota.ts'
import type { ClaimResult, IdentityStore, Invite } from './ports.ts'
import { secretsEqual } from './secret.ts'
import { createSecretGuard } from './secret-guard.ts'

/** A hello the room answered: who claims to be whom, and the nonce their key must sign. */
export interface Challenge {
  readonly member: Member
  readonly nonce: string
  /** The admin's invite the hello carried, if any: used only if the name is not bound yet. */
  readonly invite?: string
  /** The nonce of a key asking to become another device of the name (shared/crypto/device-links.ts). */
  readonly linkNonce?: string
}

export type HelloVerdict =
  | { readonly kind: 'challenge'; readonly challenge: Challenge }
  /** Said, not held against the connection: it did not know the room asks for a secret. */
  | { readonly kind: 'tell'; readonly frame: ErrorFrame }
  /** An invalid hello: counted against the connection, which may say hello again. */
  | { readonly kind: 'reject'; readonly code: ErrorCode; readonly message: string }
  /** The connection is closed. */
  | { readonly kind: 'fail'; readonly code: ErrorCode; readonly message: string }

export interface Admission {
  /** `remoteAddress` is where the hello came from: wrong secrets from there lock it out. */
  hello(frame: HelloFrame, remoteAddress: string): HelloVerdict
  /** Whether `signature` is the claimed key's, over this challenge's nonce and name. */
  verify(challenge: Challenge, signature: string): Promise<boolean>
  /**
   * Binds the name to the key on first use, within the new names the key and the address
   * (`remoteAddress`, an IPv6 /64) may bind, or with an invite for the name (the only way in an
   * invite-only room); a name the key holds already is always let in.
   */
  claim(member: Member, remoteAddress: string, invite?: string): Promise<ClaimVerdict>
  /**
   * For a key asking to become another device of the name: 'linked' when it is one already (with
   * its approvals, which it may have missed: it joins as any member), 'link' when it may wait for
   * a device of the name to approve it.
   */
  linkable(
    member: Member,
  ): Promise<
    | Extract<ClaimVerdict, { kind: 'refuse' }>
    | { readonly kind: 'link' }
    | { readonly kind: 'linked'; readonly links: readonly DeviceLink[] }
  >
}

/** A claim let in, or refused with a code and a message that tells the user what to do. */
export type ClaimVerdict =
  | { readonly kind: 'admit' }
  | { readonly kind: 'refuse'; readonly code: ErrorCode; readonly message: string }

export interface AdmissionOptions {
  readonly identities: IdentityStore
  /** When set, `hello` must carry it. */
  readonly secret: string | undefined
  /** Whether a name not bound yet needs an admin's invite (CHATBOX_INVITE_ONLY). */
  readonly inviteOnly?: boolean
  readonly now: () => number
  readonly randomBytes: (length: number) => Uint8Array
  /** New names a key, and an address, may bind (Limits.nameRatePerKey, nameRatePerAddress). */
  readonly nameRates: { readonly perKey: NameRate; readonly perAddress: NameRate }
  /** A binding never used in the group lapses after this long (Limits.unusedNameMs). */
  readonly unusedNameMs: number
  /** Wrong secrets an address may send before it is locked out (Limits.secretGuesses). */
  readonly secretGuesses?: SecretGuessLimits
  /** The operator's event log: lockouts of secret guessers. */
  readonly events?: EventSink
}

/** A claim the name quotas do not count: an invited one, or one that may not bind at all. */
const OUTSIDE_QUOTA: Allowance = { ok: true, settle: () => {} }

const ASK_FOR_SECRET = errorFrame('bad_secret', 'this room asks for a secret', false)

const UNLINKED: ClaimVerdict = {
  kind: 'refuse',
  code: 'unlinked',
  message:
    'another device of yours unlinked this one; to use it again, link it anew (--link-device, or "Link to an identity I already use")',
}

export function createAdmission(options: AdmissionOptions): Admission {
  const { identities, secret, now, randomBytes } = options
  const quota = createNameQuota(options.nameRates, now)
  const guard = createSecretGuard({
    ...(options.secretGuesses ?? SECRET_GUESS_LIMITS),
    now,
    report: options.events ?? ignoreEvents,
  })
  const unusedBefore = (at: number) => at - options.unusedNameMs

  /** An admin's invite binds its name past the quotas; used only if it bound, else kept. */
  async function claimInvited(
    name: string,
    identityKey: string,
    at: number,
    invite: Invite,
  ): Promise<ClaimVerdict> {
    let result: ClaimResult | undefined
    try {
      result = await identities.claim(name, identityKey, at, { unusedBefore: unusedBefore(at) })
    } finally {
      if (result !== 'new') await identities.addInvite(invite)
    }
    if (result === 'new') options.events?.({ event: 'admin', action: 'invite-used', name })
    return claimVerdict(name, result, OUTSIDE_QUOTA)
  }

  /** Invite-only: a name the key holds is let in; no new name is bound without an invite. */
  async function claimUninvited(
    name: string,
    identityKey: string,
    at: number,
    inviteCode: string | undefined,
  ): Promise<ClaimVerdict> {
    const result = await identities.claim(name, identityKey, at, {
      mayBind: false,
      unusedBefore: unusedBefore(at),
    })
    if (result !== 'limited') return claimVerdict(name, result, OUTSIDE_QUOTA)
    return inviteCode === undefined
      ? {
          kind: 'refuse',
          code: 'invite_required',
          message: `this room is invite-only: ask the admin for an invite for "${name}"`,
        }
      : {
          kind: 'refuse',
          code: 'invite_invalid',
          message: `this invite is used, expired or not for "${name}"; ask the admin for a new one`,
        }
  }

  return {
    hello(frame, remoteAddress) {
      if (secret !== undefined) {
        // Refused before the secret is looked at: a guess made while locked out tells nothing.
        const waitMs = guard.waitMs(remoteAddress)
        if (waitMs > 0) {
          const wait = inWords(waitMs)
          const message = `too many wrong room secrets from your address; try again in ${wait}`
          return { kind: 'fail', code: 'rate_limited', message }
        }
        if (frame.secret === undefined) return { kind: 'tell', frame: ASK_FOR_SECRET }
        if (!secretsEqual(frame.secret, secret)) {
          const lockoutMs = guard.missed(remoteAddress)
          const message =
            lockoutMs > 0
              ? `wrong room secret; too many from your address, try again in ${inWords(lockoutMs)}`
              : 'wrong room secret'
          return { kind: 'fail', code: 'bad_secret', message }
        }
      }
      const check = checkName(frame.name)
      if (!check.ok) {
        return {
          kind: 'reject',
          code: check.code ?? 'name_invalid',
          message: check.message ?? 'invalid name',
        }
      }
      const member = { name: frame.name, identityKey: frame.identityKey }
      const nonce = encodeBase64url(randomBytes(32))
      const invite = frame.invite === undefined ? {} : { invite: frame.invite }
      const link = frame.link === undefined ? {} : { linkNonce: frame.link.nonce }
      return { kind: 'challenge', challenge: { member, nonce, ...invite, ...link } }
    },
    async linkable({ name, identityKey }) {
      if (await identities.isBanned(identityKey)) {
        return { kind: 'refuse', code: 'banned', message: 'the admin banned this key' }
      }
      const result = await identities.claim(name, identityKey, now(), { mayBind: false })
      if (result === 'known') {
        const devices = await identities.devices(name)
        const links = devices.find((device) => device.identityKey === identityKey)?.links ?? []
        return { kind: 'linked', links }
      }
      if (result === 'conflict') return { kind: 'link' }
      const message = `nobody holds "${name}" yet: join without linking to take it`
      return { kind: 'refuse', code: 'link_invalid', message }
    },
    verify: ({ member, nonce }, signature) =>
      verifyIdentitySignature(member.identityKey, signature, authMessage(nonce, member.name)),
    async claim({ name, identityKey }, remoteAddress, inviteCode) {
      const at = now()
      if (await identities.isBanned(identityKey)) {
        return { kind: 'refuse', code: 'banned', message: 'the admin banned this key' }
      }
      const invite =
        inviteCode === undefined
          ? null
          : await identities.takeInvite(inviteDigest(inviteCode), name, at)
      if (invite) return claimInvited(name, identityKey, at, invite)
      if (options.inviteOnly) return claimUninvited(name, identityKey, at, inviteCode)
      const allowance = quota.allow(identityKey, remoteAddress)
      let bound = false
      try {
        const result = await identities.claim(name, identityKey, at, {
          mayBind: allowance.ok,
          unusedBefore: unusedBefore(at),
        })
        bound = result === 'new'
        if (result === 'conflict' && (await identities.wasUnlinked(name, identityKey))) {
          return UNLINKED
        }
        return claimVerdict(name, result, allowance)
      } finally {
        // A reconnect, a refusal or a failed store took nothing from either quota.
        if (allowance.ok) allowance.settle(bound)
      }
    },
  }
}

const LOOK_ALIKES = 'case, _ and -, I l 1 i, O 0, rn m, vv w and cl d count as one'

function claimVerdict(name: string, result: ClaimResult, allowance: Allowance): ClaimVerdict {
  switch (result) {
    case 'new':
    case 'known':
      return { kind: 'admit' }
    case 'conflict':
      return {
        kind: 'refuse',
        code: 'name_taken',
        message: `"${name}" belongs to another identity key; choose another name`,
      }
    case 'confusable':
      return {
        kind: 'refuse',
        code: 'name_confusable',
        message: `"${name}" looks like a name already taken (${LOOK_ALIKES}); choose another name`,
      }
    case 'limited': {
      // Only a claim the quota refused can be limited; the store binds whenever it is allowed to.
      const { holder, waitMs } = allowance.ok
        ? ({ holder: 'address', waitMs: 0 } as const)
        : allowance
      const who = holder === 'key' ? 'this identity key' : 'this address'
      return {
        kind: 'refuse',
        code: 'name_limited',
        message:
          `${who} has bound its share of new names for now; try again in ${inWords(waitMs)}, ` +
          'or join under a name it holds',
      }
    }
  }
}

/** A wait as a person reads it: seconds under a minute, minutes above. */
function inWords(ms: number): string {
  // The bucket's floating-point arithmetic can overshoot by a millisecond: 1,001 ms is 1 s.
  const wait = Math.floor(ms / 10) * 10
  return wait < 60_000
    ? `${Math.max(1, Math.ceil(wait / 1000))} s`
    : `${Math.ceil(wait / 60_000)} min`
}
