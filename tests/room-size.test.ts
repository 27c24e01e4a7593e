// A room larger than a thousand members: the frames that list the MLS group (a newcomer's
// `ready`) must still parse on the client. The ratchet-tree work for such rooms is measured by
// bench/mls-join.ts; here only the protocol's own bound is in question.
import { describe, expect, test } from 'bun:test'
import { connectTls, connectWebSocket, join, startTestServer } from './support/harness.ts'

const ROOM = Array.from({ length: 1500 }, (_, index) => `member${index}`)

describe('a room of 1,500 members', () => {
  test('admits a newcomer whose ready lists the whole group, over both transports', async () => {
    await using server = await startTestServer({ members: ROOM })
    await using overTls = await connectTls(server)
    await using overWebSocket = await connectWebSocket(server)
    for (const [client, name] of [
      [overTls, 'newcomer'],
      [overWebSocket, 'latecomer'],
    ] as const) {
      const { ready } = await join(client, name)
      // The seeded group's founder is in it too.
      expect(ready.group?.roster).toHaveLength(ROOM.length + 1)
      expect(client.inbox.invalid).toEqual([])
    }
  })
})
