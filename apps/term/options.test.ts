import { describe, expect, test } from 'bun:test'
import { loadOptions, parseServerAddress, UsageError } from './options.ts'

describe('terminal client options', () => {
  test('flags win over the environment', () => {
    const options = loadOptions(['--name', 'alice', '--json'], {
      CHATBOX_NAME: 'bob',
      CHATBOX_SERVER: 'chat.example:9000',
      HOME: '/home/x',
    })
    expect(options.name).toBe('alice')
    expect(options.server).toEqual({ host: 'chat.example', port: 9000, label: 'chat.example:9000' })
    expect(options.json).toBe(true)
  })

  test('server addresses take a default port and bracketed IPv6', () => {
    expect(parseServerAddress('localhost')).toEqual({
      host: 'localhost',
      port: 8444,
      label: 'localhost:8444',
    })
    expect(parseServerAddress('[::1]:7000')).toEqual({
      host: '::1',
      port: 7000,
      label: '[::1]:7000',
    })
    expect(() => parseServerAddress('bad host:1')).toThrow(UsageError)
    expect(() => parseServerAddress('h:70000')).toThrow('the port must be 1–65535')
  })

  test('an unknown flag is a usage error', () => {
    expect(() => loadOptions(['--nope'], {})).toThrow(UsageError)
  })
})
