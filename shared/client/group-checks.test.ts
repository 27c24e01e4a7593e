import { describe, expect, test } from 'bun:test'
import {
  bindingsOf,
  commitProblem,
  leavesRemoved,
  unboundLeaf,
  welcomeProblem,
} from './group-checks.ts'
import type { GroupMember } from './mls.ts'

/** A 43-character stand-in for an identity key, one per letter. */
const key = (letter: string) => letter.repeat(43)
const leaf = (leafIndex: number, name: string, letter: string): GroupMember => ({
  leafIndex,
  name,
  identityKey: key(letter),
})
const binding = ({ name, identityKey }: GroupMember) => ({ name, identityKey })

const alice = leaf(0, 'alice', 'A')
const bobPhone = leaf(1, 'bob', 'B')
const bobLaptop = leaf(2, 'bob', 'C')
const carol = leaf(3, 'carol', 'D')

describe('unboundLeaf', () => {
  test('accepts two leaves of one name with two keys, each bound: one person, two devices', () => {
    const leaves = [alice, bobPhone, bobLaptop]
    expect(unboundLeaf(leaves, bindingsOf(leaves.map(binding)))).toBeUndefined()
  })

  test('refuses a second key under a bound name that the server never bound', () => {
    const problem = unboundLeaf([alice, bobPhone, bobLaptop], bindingsOf([alice, bobPhone]))
    expect(problem).toBe('the group holds a key of bob that the server never said was added')
  })

  test('refuses one key on two leaves, even under the name it is bound to', () => {
    const again = { ...bobPhone, leafIndex: 4 }
    expect(unboundLeaf([alice, bobPhone, again], bindingsOf([alice, bobPhone]))).toBe(
      "the group holds bob's key twice",
    )
  })

  test('refuses a bound key under another name than the one it is bound to', () => {
    const posing = { ...bobPhone, name: 'carol' }
    expect(unboundLeaf([alice, posing], bindingsOf([alice, bobPhone]))).toBe(
      'the group holds carol with a key the server bound to bob',
    )
  })

  test('takes a name in another case for the same name', () => {
    const upper = { ...bobPhone, name: 'Bob' }
    expect(unboundLeaf([upper], bindingsOf([bobPhone]))).toBeUndefined()
  })
})

describe('leavesRemoved', () => {
  test('takes each key for its leaf alone, leaving the other device of that name', () => {
    expect(leavesRemoved([alice, bobPhone, bobLaptop], [key('C')])).toEqual([bobLaptop])
  })

  test("takes a legacy name for that name's leaf, in any case", () => {
    expect(leavesRemoved([alice, carol], ['Carol'])).toEqual([carol])
  })

  test('lets a key take its leaf before a name could take it in its place', () => {
    const removes = ['bob', key('B')]
    expect(leavesRemoved([alice, bobPhone, bobLaptop], removes)).toEqual([bobPhone, bobLaptop])
  })

  test('is undefined when an entry stands for no leaf, or for one taken already', () => {
    expect(leavesRemoved([alice, carol], [key('Z')])).toBeUndefined()
    expect(leavesRemoved([alice, carol], ['dave'])).toBeUndefined()
    expect(leavesRemoved([alice, carol], [key('D'), key('D')])).toBeUndefined()
  })
})

describe('commitProblem', () => {
  const before = [alice, bobPhone, bobLaptop, carol]

  test("passes a commit that removes one of bob's devices, claimed by its key", () => {
    const change = { before, after: [alice, bobPhone, carol], added: [], removed: [bobLaptop] }
    expect(commitProblem(change, { adds: [], removes: [key('C')] })).toBeUndefined()
  })

  test("refuses a commit whose claimed key is bob's other device", () => {
    const change = { before, after: [alice, bobPhone, carol], added: [], removed: [bobLaptop] }
    expect(commitProblem(change, { adds: [], removes: [key('B')] })).toBe(
      'the server says it adds [] and removes [bob], but the commit adds [] and removes [bob]',
    )
  })

  test('passes a commit logged before devices, whose removes holds a name', () => {
    const change = { before, after: [alice, bobPhone, bobLaptop], added: [], removed: [carol] }
    expect(commitProblem(change, { adds: [], removes: ['carol'] })).toBeUndefined()
    expect(commitProblem(change, { adds: [], removes: ['dave'] })).toContain('removes [dave]')
  })

  test('passes a device that rejoins: its old leaf removed, a new one with the same key added', () => {
    const rejoined = { ...bobLaptop, leafIndex: 4 }
    const change = {
      before,
      after: [alice, bobPhone, carol, rejoined],
      added: [rejoined],
      removed: [bobLaptop],
    }
    const claims = { adds: [binding(bobLaptop)], removes: [key('C')] }
    expect(commitProblem(change, claims)).toBeUndefined()
  })

  test('refuses an added key the server bound to another name', () => {
    const dave = leaf(4, 'dave', 'E')
    const change = { before, after: [...before, dave], added: [dave], removed: [] }
    expect(
      commitProblem(change, { adds: [{ name: 'erin', identityKey: key('E') }], removes: [] }),
    ).toContain('the server says it adds [erin]')
    expect(commitProblem(change, { adds: [binding(dave)], removes: [] })).toBeUndefined()
  })

  test('refuses a second device added when the server claimed another key for it', () => {
    const bobTablet = leaf(4, 'bob', 'F')
    const change = { before, after: [...before, bobTablet], added: [bobTablet], removed: [] }
    const claims = { adds: [{ name: 'bob', identityKey: key('G') }], removes: [] }
    expect(commitProblem(change, claims)).toContain('but the commit adds [bob]')
  })
})

describe('welcomeProblem', () => {
  test("passes a tree that is the server's roster key for key, two devices of one name included", () => {
    const leaves = [alice, bobPhone, bobLaptop]
    expect(welcomeProblem(leaves, leaves.map(binding))).toBeUndefined()
  })

  test('refuses a tree in which a device has a key other than the roster gives', () => {
    const roster = [alice, bobPhone, { name: 'bob', identityKey: key('F') }]
    expect(welcomeProblem([alice, bobPhone, bobLaptop], roster)).toBe(
      'the group holds a key of bob that the server never said was added',
    )
  })
})
