// Invites an admin hands out (`bun run admin invite NAME`): a one-time code, the digest a store
// keeps instead of it, and the page link that carries it. Runs in Bun and in browsers alike.
import { sha256 } from '@noble/hashes/sha2.js'
import * as v from 'valibot'
import { decodeBase64url, encodeBase64url } from './base64url.ts'
import { InviteCode } from './frames.ts'
import { NAME_MAX_LENGTH } from './limits.ts'

/** 16 random bytes: as hard to guess as the identity keys themselves are to forge. */
const INVITE_CODE_BYTES = 16

export function createInviteCode(randomBytes: (length: number) => Uint8Array): string {
  return encodeBase64url(randomBytes(INVITE_CODE_BYTES))
}

/** What a store keeps of an invite: a leaked store hands out no usable code. */
export function inviteDigest(code: string): string {
  return encodeBase64url(sha256(decodeBase64url(code)))
}

/** The page's address with the invite and its name in the fragment, which no server ever sees. */
export function inviteLink(pageUrl: string, code: string, name: string): string {
  const url = new URL(pageUrl)
  url.hash = new URLSearchParams({ invite: code, name }).toString()
  return url.toString()
}

const InviteFragmentSchema = v.object({
  invite: InviteCode,
  name: v.optional(v.pipe(v.string(), v.maxLength(NAME_MAX_LENGTH))),
})
export type InviteFragment = v.InferOutput<typeof InviteFragmentSchema>

/** The invite in a page address's fragment (`#invite=…&name=…`), or undefined if it has none. */
export function parseInviteFragment(hash: string): InviteFragment | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''))
  const name = params.get('name')
  const parsed = v.safeParse(InviteFragmentSchema, {
    invite: params.get('invite'),
    ...(name === null ? {} : { name }),
  })
  return parsed.success ? parsed.output : undefined
}
