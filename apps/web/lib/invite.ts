// The invite in the page's address (`#invite=…&name=…`, from `bun run admin invite NAME`): read
// once at load, then taken out of the address bar, so it is neither bookmarked nor passed on.
import { type InviteFragment, parseInviteFragment } from '../../../shared/protocol/invites.ts'
import { nameKey } from '../../../shared/protocol/names.ts'

function takeInviteFromAddress(): InviteFragment | undefined {
  const invite = parseInviteFragment(location.hash)
  if (invite) history.replaceState(null, '', location.pathname + location.search)
  return invite
}

export const pageInvite = takeInviteFromAddress()

/** The invite to send when joining as `name`: only the one made for that name. */
export function inviteFor(name: string): { invite?: string } {
  if (!pageInvite) return {}
  const forName = pageInvite.name === undefined || nameKey(pageInvite.name) === nameKey(name)
  return forName ? { invite: pageInvite.invite } : {}
}
