import { describe, expect, test } from 'bun:test'
import { createMlsMember } from '../../tests/support/mls-member.ts'
import { decodeBase64url } from '../protocol/base64url.ts'
import { checkCommit, checkKeyPackage } from './commit-check.ts'
import {
  decodePublicGroup,
  encodePublicGroup,
  epochDigest,
  groupFromGroupInfo,
  leavesOf,
  type PublicGroup,
} from './public-group.ts'

const bytes = decodeBase64url

describe('the public view of a group', () => {
  test('follows founding, an add and a remove exactly as the members do', async () => {
    const alice = await createMlsMember('alice')
    const bob = await createMlsMember('bob')
    const carol = await createMlsMember('carol')
    const founded = await groupFromGroupInfo(bytes(await alice.found()), alice.binding)
    if (!founded.ok) throw new Error(founded.message)
    let group: PublicGroup = founded.value

    const bobKp = await bob.keyPackage()
    const checkedKp = await checkKeyPackage(bytes(bobKp), bob.binding)
    if (!checkedKp.ok) throw new Error(checkedKp.message)
    const carolKp = await carol.keyPackage()
    const carolChecked = await checkKeyPackage(bytes(carolKp), carol.binding)
    if (!carolChecked.ok) throw new Error(carolChecked.message)
    const addBoth = await alice.commit({ add: [bobKp, carolKp] })
    const checked = await checkCommit(group, bytes(addBoth.commit), {
      committer: alice.binding,
      adds: [
        { ...bob.binding, keyPackage: checkedKp.value.encoded },
        { ...carol.binding, keyPackage: carolChecked.value.encoded },
      ],
      removes: [],
    })
    if (!checked.ok) throw new Error(checked.message)
    addBoth.merge()
    group = checked.value.next
    expect(group.context).toEqual(alice.state?.groupContext as never)
    await bob.join(addBoth.welcome as string)
    await carol.join(addBoth.welcome as string)
    const bobs = bob.state as NonNullable<typeof bob.state>
    expect(await epochDigest(group.context, group.confirmationTag)).toBe(
      await epochDigest(bobs.groupContext, bobs.confirmationTag),
    )

    // Claims name leaves by identity key: one name may have several devices.
    const carolKey = carol.binding.identityKey
    const removeCarol = await bob.commit({ remove: [carolKey] })
    const second = await checkCommit(group, bytes(removeCarol.commit), {
      committer: bob.binding,
      adds: [],
      removes: [carolKey],
    })
    if (!second.ok) throw new Error(second.message)
    removeCarol.merge()
    await alice.apply(removeCarol.commit)
    group = second.value.next
    expect(group.context).toEqual(alice.state?.groupContext as never)
    expect(leavesOf(group.tree).map(({ name, identityKey }) => ({ name, identityKey }))).toEqual([
      alice.binding,
      bob.binding,
    ])
    expect(decodePublicGroup(encodePublicGroup(group))).toEqual(group)
  })
})
