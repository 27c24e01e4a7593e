import { describe, expect, test } from 'bun:test'
import { createMemoryStores } from './memory-stores.ts'
import type { GroupSnapshot, StoredIdentity, TrustRecord } from './stores.ts'

const identity: StoredIdentity = {
  privateKey: 'MC4CAQAwBQYDK2VwBCIEI',
  publicKey: 'A'.repeat(43),
  createdAt: 1,
}
const alice: TrustRecord = {
  name: 'Alice',
  identityKey: 'B'.repeat(43),
  firstSeen: 2,
  verified: false,
}
const snapshot: GroupSnapshot = { groupId: 'AQID', lastSeq: 7, state: 'BAUG' }

describe('createMemoryStores', () => {
  test('holds nothing before anything is saved', async () => {
    const stores = createMemoryStores()
    expect(await stores.identity.load()).toBeUndefined()
    expect(await stores.trust.get('alice')).toBeUndefined()
    expect(await stores.trust.list()).toEqual([])
    expect(await stores.group.load()).toBeUndefined()
  })

  test('gives back the identity, trust records and group snapshot it was given', async () => {
    const stores = createMemoryStores()
    await stores.identity.save(identity)
    await stores.trust.put(alice)
    await stores.group.save(snapshot)
    expect(await stores.identity.load()).toEqual(identity)
    expect(await stores.trust.get('Alice')).toEqual(alice)
    expect(await stores.trust.list()).toEqual([alice])
    expect(await stores.group.load()).toEqual(snapshot)
  })

  test('finds a trust record by its name in any case and replaces it on a later put', async () => {
    const stores = createMemoryStores()
    await stores.trust.put(alice)
    expect(await stores.trust.get('ALICE')).toEqual(alice)
    const verified = { ...alice, name: 'alice', verified: true }
    await stores.trust.put(verified)
    expect(await stores.trust.list()).toEqual([verified])
  })

  test('keeps peers whose names collide with object prototype keys', async () => {
    const stores = createMemoryStores()
    const peer = { ...alice, name: 'constructor' }
    await stores.trust.put(peer)
    expect(await stores.trust.get('constructor')).toEqual(peer)
    expect(await stores.trust.get('toString')).toBeUndefined()
  })

  test('does not let a caller change stored state by mutating what it loaded', async () => {
    const stores = createMemoryStores()
    await stores.identity.save(identity)
    await stores.trust.put(alice)
    await stores.group.save(snapshot)

    const loadedIdentity = await stores.identity.load()
    const loadedRecord = await stores.trust.get('alice')
    const [listedRecord] = await stores.trust.list()
    const loadedSnapshot = await stores.group.load()
    if (!loadedIdentity || !loadedRecord || !listedRecord || !loadedSnapshot)
      throw new Error('lost')
    loadedIdentity.createdAt = 99
    loadedRecord.verified = true
    listedRecord.identityKey = 'C'.repeat(43)
    loadedSnapshot.lastSeq = 99

    expect(await stores.identity.load()).toEqual(identity)
    expect(await stores.trust.get('alice')).toEqual(alice)
    expect(await stores.group.load()).toEqual(snapshot)
  })

  test('does not let a caller change stored state by mutating what it saved', async () => {
    const stores = createMemoryStores()
    const savedIdentity = { ...identity }
    const savedRecord = { ...alice }
    const savedSnapshot = { ...snapshot }
    await stores.identity.save(savedIdentity)
    await stores.trust.put(savedRecord)
    await stores.group.save(savedSnapshot)
    savedIdentity.createdAt = 99
    savedRecord.verified = true
    savedSnapshot.lastSeq = 99

    expect(await stores.identity.load()).toEqual(identity)
    expect(await stores.trust.get('alice')).toEqual(alice)
    expect(await stores.group.load()).toEqual(snapshot)
  })

  test('forgets the group snapshot on clear but keeps identity and trust', async () => {
    const stores = createMemoryStores()
    await stores.identity.save(identity)
    await stores.trust.put(alice)
    await stores.group.save(snapshot)
    await stores.group.clear()
    expect(await stores.group.load()).toBeUndefined()
    expect(await stores.identity.load()).toEqual(identity)
    expect(await stores.trust.list()).toEqual([alice])
  })

  test('gives each set of stores its own state', async () => {
    const one = createMemoryStores()
    const two = createMemoryStores()
    await one.identity.save(identity)
    expect(await two.identity.load()).toBeUndefined()
  })
})
