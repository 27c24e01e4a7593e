import { describe, expect, test } from 'bun:test'
import { decodeServerFrame, encodeFrame } from '../../../shared/protocol/codec.ts'
import type { GroupStatus, Member, ServerLimits } from '../../../shared/protocol/frames.ts'
import { createReadyEncoder, type ReadyFields } from './ready-wire.ts'

const limits: ServerLimits = {
  maxFileBytes: 1_048_576,
  rate: { perSecond: 5, burst: 20 },
  bytes: { perSecond: 262_144, burst: 1_048_576 },
}
const key = (index: number) => `k${index}`.padEnd(43, 'A')
const member = (index: number): Member => ({ name: `member${index}`, identityKey: key(index) })
const status = (epoch: number, size: number): GroupStatus => ({
  groupId: 'g'.repeat(22),
  epoch,
  roster: Array.from({ length: size }, (_, index) => key(index)),
})

describe('the ready encoder', () => {
  // What clients read must not depend on which parts were kept: the text is encodeFrame's.
  test('writes what encodeFrame writes, through every change of page and group', () => {
    const encode = createReadyEncoder(limits)
    const firstPage = [member(1), member(2)]
    const cases: ReadyFields[] = [
      { name: 'ada_one', head: 0, members: [], online: 1, next: null, group: null },
      { name: 'bob_two', head: 7, members: firstPage, online: 2, next: null, group: null },
      { name: 'cyrus', head: 8, members: firstPage, online: 3, next: 2, group: status(0, 1) },
      { name: 'deena', head: 9, members: firstPage, online: 4, next: 2, group: status(0, 1) },
      { name: 'evelyn', head: 9, members: [member(3)], online: 4, next: 5, group: status(1, 2) },
      { name: 'fayette', head: 10, members: [member(3)], online: 5, next: 5, group: null },
      { name: 'gustav', head: 11, members: [member(3)], online: 5, next: 5, group: status(1, 3) },
    ]
    for (const fields of cases) {
      const wire = encode(fields)
      expect(wire).toBe(encodeFrame({ type: 'ready', ...fields, limits }))
      expect(decodeServerFrame(wire)).toEqual({
        ok: true,
        frame: { type: 'ready', ...fields, limits },
      })
    }
  })

  test('sees a roster changed within one epoch', () => {
    const encode = createReadyEncoder(limits)
    const fields: ReadyFields = {
      name: 'ada_one',
      head: 0,
      members: [],
      online: 1,
      next: null,
      group: status(3, 2),
    }
    encode(fields)
    const changed = { ...fields, group: { ...status(3, 2), roster: [key(0), key(9)] } }
    expect(encode(changed)).toBe(encodeFrame({ type: 'ready', ...changed, limits }))
  })
})
