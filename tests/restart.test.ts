import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import {
  connectTls,
  connectWebSocket,
  join,
  startTestServer,
  temporaryDirectory,
} from './support/harness.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('restart on the same data directory', () => {
  test('a member that resumes after a restart gets what it missed, in order, once', async () => {
    using dataDir = temporaryDirectory()
    const first = await startTestServer({ dataDir, members: ['alice', 'bob'] })
    const alice = await connectWebSocket(first)
    const bob = await connectTls(first)
    const { identity: aliceKey } = await join(alice, 'alice')
    const { identity: bobKey } = await join(bob, 'bob')
    alice.send({ type: 'app', ciphertext: 'b25l' })
    const seen = await bob.inbox.take('app')
    expect(seen.seq).toBe(1)
    expect(await alice.inbox.take('app')).toEqual(seen)
    // bob drops off; alice keeps talking, then the server goes down.
    bob.close()
    await alice.inbox.take('presence', (frame) => frame.event === 'leave')
    alice.send({ type: 'app', ciphertext: 'dHdv' })
    alice.send({ type: 'app', ciphertext: 'dGhyZWU' })
    const missed = [await alice.inbox.take('app'), await alice.inbox.take('app')]
    await first.stop()
    expect((await alice.inbox.take('error')).code).toBe('going_away')

    await using second = await startTestServer({ dataDir })
    await using bobAgain = await connectTls(second)
    const { ready } = await join(bobAgain, 'bob', bobKey)
    expect(ready.head).toBe(3)
    bobAgain.send({ type: 'resume', afterSeq: seen.seq })
    expect([await bobAgain.inbox.take('app'), await bobAgain.inbox.take('app')]).toEqual(missed)
    expect(await bobAgain.inbox.take('resumed')).toEqual({ type: 'resumed', head: 3 })

    // Names stay bound to their keys across the restart, and numbering carries on.
    await using aliceAgain = await connectWebSocket(second)
    await join(aliceAgain, 'alice', aliceKey)
    aliceAgain.send({ type: 'app', ciphertext: 'Zm91cg' })
    expect((await bobAgain.inbox.take('app')).seq).toBe(4)
    expect(bobAgain.inbox.frames.filter((frame) => frame.type === 'app')).toEqual([])
  })
})
