import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { connectTls, connectWebSocket, join, startTestServer } from './support/harness.ts'
import { spawnMember } from './support/member-process.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('a member that stops reading', () => {
  for (const transport of ['wss', 'tls'] as const) {
    test(`a stopped ${transport} member is dropped at its queue cap and the others get everything`, async () => {
      await using server = await startTestServer({
        members: ['alice', 'bob'],
        limits: {
          sendQueueBytes: 1024 * 1024,
          rate: { perSecond: 10_000, burst: 10_000, strikes: 100 },
          // 12 MB from alice in a second or two: the byte budget is not what this tests.
          bytes: { perSecond: 1e9, burst: 1e9 },
        },
      })
      await using alice = await connectTls(server)
      await using bob = await connectWebSocket(server)
      await join(alice, 'alice')
      await join(bob, 'bob')
      const stalled = await spawnMember(server, transport, 'stalled')
      try {
        await bob.inbox.take('presence', (frame) => frame.name === 'stalled')
        stalled.kill('SIGSTOP')

        // 400 messages of 30 KB: far past the cap plus what the kernel's socket buffers hold.
        const ciphertext = 'x'.repeat(30_000)
        const count = 400
        // In batches, reading her own copies between them, so alice is a reader that keeps up.
        for (let batch = 0; batch < count / 20; batch += 1) {
          for (let index = 0; index < 20; index += 1) alice.send({ type: 'app', ciphertext })
          for (let index = 0; index < 20; index += 1) await alice.inbox.take('app')
        }
        const leave = await bob.inbox.take('presence', (frame) => frame.event === 'leave', 15_000)
        expect(leave).toMatchObject({ name: 'stalled', reason: 'dropped' })
        const seqs: number[] = []
        for (let index = 0; index < count; index += 1) seqs.push((await bob.inbox.take('app')).seq)
        expect(seqs).toEqual(Array.from({ length: count }, (_, index) => index + 1))
      } finally {
        stalled.kill('SIGKILL')
      }
    })
  }
})
