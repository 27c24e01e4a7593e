import { describe, expect, test } from 'bun:test'
import { isLoopback, metricsAccess } from './metrics-access.ts'

const TOKEN = 'a-long-random-metrics-token'

describe('metricsAccess', () => {
  test('without a token, lets this machine in and refuses every other address with 403', () => {
    for (const address of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1']) {
      expect(metricsAccess(address, null, undefined)).toBe('ok')
    }
    for (const address of [
      '10.0.0.5',
      '192.0.2.7',
      '::ffff:192.0.2.7',
      '2001:db8::1',
      '128.0.0.1',
    ]) {
      expect(metricsAccess(address, null, undefined)).toBe(403)
    }
  })

  test('with a token, wants it from everyone, this machine too, and refuses anything else with 401', () => {
    expect(metricsAccess('192.0.2.7', `Bearer ${TOKEN}`, TOKEN)).toBe('ok')
    expect(metricsAccess('127.0.0.1', `bearer ${TOKEN}`, TOKEN)).toBe('ok')
    expect(metricsAccess('127.0.0.1', null, TOKEN)).toBe(401)
    expect(metricsAccess('192.0.2.7', `Bearer ${TOKEN}x`, TOKEN)).toBe(401)
    expect(metricsAccess('192.0.2.7', `Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(401)
    expect(metricsAccess('192.0.2.7', `Basic ${btoa(`x:${TOKEN}`)}`, TOKEN)).toBe(401)
    expect(metricsAccess('192.0.2.7', TOKEN, TOKEN)).toBe(401)
  })

  test('takes only 127/8 and ::1 for loopback', () => {
    expect(isLoopback('127.255.255.254')).toBe(true)
    expect(isLoopback('::ffff:127.0.0.9')).toBe(true)
    expect(isLoopback('0.0.0.0')).toBe(false)
    expect(isLoopback('::')).toBe(false)
    expect(isLoopback('fe80::1')).toBe(false)
    expect(isLoopback('unknown')).toBe(false)
  })
})
