import { describe, expect, test } from 'bun:test'
import { createMemoryStores } from './memory-stores.ts'
import { outgoingKeeper } from './outgoing-keeper.ts'
import type { OutgoingRecord } from './stores.ts'

const owner = { name: 'alice', identityKey: 'A'.repeat(43) }
const record: OutgoingRecord = { id: 'm1', at: 1, state: 'pending', plaintext: 'AQID' }

describe('outgoingKeeper', () => {
  test("keeps the owner's messages on their way in the history store", async () => {
    const { history } = createMemoryStores()
    const keeper = outgoingKeeper(history, async () => owner, true)
    await keeper.save([record])
    expect(await history.loadOutgoing(owner)).toEqual([record])
    expect(await keeper.load()).toEqual([record])
  })

  test('with history off it keeps nothing, and forgets what an earlier session kept', async () => {
    const { history } = createMemoryStores()
    await history.keepOutgoing(owner, [record])
    const keeper = outgoingKeeper(history, async () => owner, false)
    expect(await keeper.load()).toEqual([])
    await keeper.save([record])
    expect(await history.loadOutgoing(owner)).toEqual([])
  })
})
