import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startEngineClient } from './support/engine.ts'
import { startTestServer } from './support/harness.ts'
import { spawnTerm } from './support/term.ts'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(60_000)

const MiB = 1024 * 1024

/** `size` bytes of text lines, different in each, so a cut or a swap would show. */
function textOfSize(size: number, seed: string): Uint8Array {
  const line = (index: number) => `${seed} line ${index.toString().padStart(8, '0')}\n`
  let text = ''
  for (let index = 0; text.length < size; index += 1) text += line(index)
  return new TextEncoder().encode(text.slice(0, size - 1).concat('\n'))
}

describe('the server’s file limit reaches both clients', () => {
  test('with a 4 MiB limit, a 3 MiB file goes whole from an engine client to a terminal and back', async () => {
    await using server = await startTestServer({ limits: { maxFileBytes: 4 * MiB } })
    await using alice = await startEngineClient(server, 'alice', 'wss')
    await using bob = await spawnTerm(server, { name: 'bob', args: ['--json'] })
    await bob.waitForLine(/"status":"ready"/)
    await alice.waitFor('membership', (event) => event.members.includes('bob'))
    expect(alice.session.maxFileBytes()).toBe(4 * MiB)

    const fromAlice = textOfSize(3 * MiB, 'alice')
    await alice.session.sendFile({ name: 'big-from-alice.txt', bytes: fromAlice })
    const received = JSON.parse(await bob.waitForLine(/"type":"file".*big-from-alice/, 30_000))
    expect(received).toMatchObject({ name: 'big-from-alice.txt', size: 3 * MiB, truncated: false })
    await bob.waitForLine(/"type":"saved".*big-from-alice\.txt/, 30_000)
    expect(readFileSync(join(bob.downloads, 'big-from-alice.txt'))).toEqual(Buffer.from(fromAlice))

    // And the terminal sends one as large, whole, where it used to cut it at 1 MiB.
    const fromBob = textOfSize(3 * MiB, 'bob')
    const path = join(bob.home, 'big-from-bob.txt')
    writeFileSync(path, fromBob)
    bob.send(`/file ${path}`)
    const file = await alice.waitFor('file', (event) => event.name === 'big-from-bob.txt', 30_000)
    expect({ size: file.size, truncated: file.truncated }).toEqual({
      size: 3 * MiB,
      truncated: false,
    })
    expect(file.bytes).toEqual(fromBob)
  })
})
