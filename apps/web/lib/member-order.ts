// The order of the member list: the page's own name first, then who is online, then the rest.
import type { MemberView } from '../../../shared/client/member-views.ts'

/** You first, then whoever is here, then the rest, each by name. */
export function byRelevance(self: string) {
  const rank = (member: MemberView) => (member.name === self ? 0 : member.online ? 1 : 2)
  return (a: MemberView, b: MemberView) =>
    rank(a) - rank(b) || a.name.localeCompare(b.name, undefined, { sensitivity: 'base' })
}
