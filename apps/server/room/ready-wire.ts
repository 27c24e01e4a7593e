// `ready` as the text encodeFrame makes of it, from parts kept encoded between joins: the first
// page of who is online and the group's roster are the same for join after join, and encoding
// them again for each was most of what a join cost the server (a profile of 10,000 joins: 44 %
// of its CPU in JSON.stringify). Knows nothing of sockets or stores.
import type { WireFrame } from '../../../shared/protocol/binary.ts'
import type { GroupStatus, ServerFrame, ServerLimits } from '../../../shared/protocol/frames.ts'

type ReadyFrame = Extract<ServerFrame, { type: 'ready' }>

/** A `ready` but for its limits, which are the server's and encoded once. */
export type ReadyFields = Omit<ReadyFrame, 'type' | 'limits'>

export function createReadyEncoder(limits: ServerLimits): (fields: ReadyFields) => WireFrame {
  const limitsJson = JSON.stringify(limits)
  // The online book hands out the same array for as long as the first page stays the same.
  let members: ReadyFields['members'] | undefined
  let membersJson = ''
  let group: GroupStatus | null | undefined
  let groupJson = ''

  return (fields) => {
    if (fields.members !== members) {
      members = fields.members
      membersJson = JSON.stringify(members)
    }
    // Each status is a new object (with a copy of the roster): compared by what it says.
    if (!group || !fields.group || !sameStatus(group, fields.group)) {
      group = fields.group
      groupJson = JSON.stringify(group)
    }
    // In ReadyFrameSchema's order, as encodeFrame would write them (ready-wire.test.ts).
    return (
      `{"type":"ready","name":${JSON.stringify(fields.name)},"head":${fields.head},` +
      `"members":${membersJson},"online":${fields.online},"next":${fields.next},` +
      `"group":${groupJson},"limits":${limitsJson}}`
    )
  }
}

function sameStatus(a: GroupStatus, b: GroupStatus): boolean {
  if (a.groupId !== b.groupId || a.epoch !== b.epoch || a.roster.length !== b.roster.length) {
    return false
  }
  return a.roster.every((key, index) => key === b.roster[index])
}
