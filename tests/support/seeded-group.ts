// A room whose MLS group already holds some names: for tests and the benchmark whose protocol-level
// clients send `app` frames (which the server takes only from group members) without running MLS
// themselves. The group is real, founded by a member that never connects; the names are added to
// its roster as the server keeps it, the way accepted commits would have put them there.
import { groupRecord } from '../../apps/server/room/group-records.ts'
import type { GroupRecord } from '../../apps/server/room/ports.ts'
import { groupFromGroupInfo } from '../../shared/mls/public-group.ts'
import { decodeBase64url, encodeBase64url } from '../../shared/protocol/base64url.ts'
import { createMlsMember } from './mls-member.ts'

export async function seededGroupRecord(names: readonly string[]): Promise<GroupRecord> {
  const founder = await createMlsMember('seedfounder')
  const founded = await groupFromGroupInfo(decodeBase64url(await founder.found()), founder.binding)
  if (!founded.ok) throw new Error(`could not seed a group: ${founded.message}`)
  const view = founded.value
  const record = groupRecord(encodeBase64url(view.context.groupId), 0, view)
  return { ...record, roster: [...record.roster, ...names] }
}
