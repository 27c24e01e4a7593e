import { describe, expect, test } from 'bun:test'
import { addressGroup, createNameQuota } from './name-quota.ts'

describe('addressGroup', () => {
  const cases: Array<[string, string, string]> = [
    ['an IPv4 address as it is', '192.0.2.7', '192.0.2.7'],
    ['an IPv4-mapped IPv6 address as its IPv4 address', '::ffff:192.0.2.7', '192.0.2.7'],
    ['a compressed IPv6 address by its /64', '2001:db8::1', '2001:db8:0:0::/64'],
    [
      'a full IPv6 address by its /64',
      '2001:0DB8:0000:0007:aaaa:bbbb:cccc:dddd',
      '2001:db8:0:7::/64',
    ],
    ['an address compressed inside the /64', '2001:db8::7:0:0:0:1', '2001:db8:0:7::/64'],
    ['an address with a zone', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['loopback', '::1', '0:0:0:0::/64'],
    ['an embedded IPv4 tail', '64:ff9b::192.0.2.7', '64:ff9b:0:0::/64'],
  ]
  for (const [what, address, group] of cases) {
    test(`charges ${what} to ${group}`, () => {
      expect(addressGroup(address)).toBe(group)
    })
  }
})

describe('createNameQuota', () => {
  test('counts a claim in flight against both, and charges only a claim that bound', () => {
    const clock = { at: 0 }
    const rate = { perSecond: 1, burst: 1 }
    const quota = createNameQuota({ perKey: rate, perAddress: rate }, () => clock.at)
    const first = quota.allow('key', '192.0.2.7')
    expect(first.ok).toBe(true)
    expect(quota.allow('key', '192.0.2.7')).toEqual({ ok: false, holder: 'key', waitMs: 1000 })
    if (first.ok) first.settle(true)
    expect(quota.allow('other', '192.0.2.7')).toEqual({
      ok: false,
      holder: 'address',
      waitMs: 1000,
    })
    clock.at = 1000
    const again = quota.allow('key', '192.0.2.7')
    expect(again.ok).toBe(true)
    if (again.ok) again.settle(false)
    expect(quota.allow('key', '192.0.2.7').ok).toBe(true)
  })
})

describe('createNameQuota with many holders', () => {
  test('keeps counting a holder whose claim is in flight while the idle ones are swept away', () => {
    const clock = { at: 0 }
    const rate = { perSecond: 1 / 3600, burst: 1 }
    const quota = createNameQuota({ perKey: rate, perAddress: rate }, () => clock.at)
    // 1,024 holders each bind a name; an hour later they are full and idle again, and the next
    // new holder sets off a sweep of the map.
    for (let index = 0; index < 1024; index += 1) {
      const allowance = quota.allow(`idle${index}`, `10.0.${index >> 8}.${index & 255}`)
      if (allowance.ok) allowance.settle(true)
    }
    expect(quota.allow('idle0', '10.0.0.0')).toMatchObject({ ok: false })
    clock.at = 3_600_000
    const held = quota.allow('busy', '192.0.2.7')
    expect(held.ok).toBe(true)
    expect(quota.allow('busy', '192.0.2.7')).toMatchObject({ ok: false, holder: 'key' })
    if (held.ok) held.settle(true)
    expect(quota.allow('busy', '198.51.100.1')).toMatchObject({ ok: false, holder: 'key' })
    expect(quota.allow('other', '192.0.2.7')).toMatchObject({ ok: false, holder: 'address' })
  })
})
