import { describe, expect, test } from 'bun:test'
import { createHistorySeal, createOutgoingSeal, generateHistoryKey } from './history-seal.ts'
import type { HistoryRecord, OutgoingRecord } from './stores.ts'

const owner = { name: 'Alice', identityKey: 'A'.repeat(43) }
const shown: HistoryRecord = {
  kind: 'message',
  id: 'm1',
  seq: 1,
  at: 1,
  from: 'bob',
  own: false,
  text: 'hello',
}
const onItsWay: OutgoingRecord = { id: 'o1', at: 2, state: 'pending', plaintext: 'AQID' }

describe('the seals at rest', () => {
  test('open what they sealed, for the same owner and key only', async () => {
    const key = await generateHistoryKey()
    const outgoing = createOutgoingSeal(key, owner)
    const sealed = await outgoing.seal([onItsWay])
    expect(await outgoing.open(sealed)).toEqual([onItsWay])
    // The same person by name (names are case-insensitive), but nobody else, and no other key.
    expect(await createOutgoingSeal(key, { ...owner, name: 'ALICE' }).open(sealed)).toEqual([
      onItsWay,
    ])
    expect(await createOutgoingSeal(key, { ...owner, name: 'bob' }).open(sealed)).toBeUndefined()
    const otherKey = await generateHistoryKey()
    expect(await createOutgoingSeal(otherKey, owner).open(sealed)).toBeUndefined()
    // One bit changed anywhere, and it is not opened at all.
    const flipped = sealed.slice()
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1
    expect(await outgoing.open(flipped)).toBeUndefined()
  })

  test('never open a block of history as messages on their way, nor the other way', async () => {
    const key = await generateHistoryKey()
    const history = createHistorySeal(key, owner)
    const outgoing = createOutgoingSeal(key, owner)
    const [historyBlock] = await history.seal([shown])
    expect(await history.open(historyBlock as Uint8Array)).toEqual([shown])
    expect(await outgoing.open(historyBlock as Uint8Array)).toBeUndefined()
    expect(await history.open(await outgoing.seal([onItsWay]))).toBeUndefined()
  })
})
