import { describe, expect, test } from 'bun:test'
import {
  DEFAULT_SAVE_QUOTA_BYTES,
  loadOptions,
  parseServerAddress,
  USAGE,
  UsageError,
} from './options.ts'

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

  test('the save quota is a size, from the flag or the environment, 100 MiB by default', () => {
    expect(loadOptions([], {}).saveQuota).toBe(DEFAULT_SAVE_QUOTA_BYTES)
    expect(DEFAULT_SAVE_QUOTA_BYTES).toBe(100 * 1024 * 1024)
    expect(loadOptions(['--save-quota', '20MiB'], {}).saveQuota).toBe(20 * 1024 * 1024)
    expect(loadOptions([], { CHATBOX_SAVE_QUOTA: '512 KiB' }).saveQuota).toBe(512 * 1024)
    expect(loadOptions(['--save-quota', '1.5G'], {}).saveQuota).toBe(1.5 * 1024 ** 3)
    expect(loadOptions(['--save-quota', '2048'], {}).saveQuota).toBe(2048)
    expect(loadOptions(['--save-quota', '0'], {}).saveQuota).toBe(0)
    // MB and KB mean what they say: powers of 1000.
    expect(loadOptions(['--save-quota', '20MB'], {}).saveQuota).toBe(20_000_000)
    expect(loadOptions([], { CHATBOX_SAVE_QUOTA: '512 KB' }).saveQuota).toBe(512_000)
    expect(() => loadOptions(['--save-quota', 'lots'], {})).toThrow(
      '--save-quota must be a size such as 100MiB, 512KiB, 20MB or 0',
    )
    expect(() => loadOptions(['--save-quota', '-1MB'], {})).toThrow(UsageError)
    expect(() => loadOptions(['--save-quota', '5 parsecs'], {})).toThrow(UsageError)
  })

  test('an invite code is 22 base64url characters, and one starting with a dash is taken after =', () => {
    const code = '-AAAAAAAAAAAAAAAAAAAAA'
    expect(loadOptions([`--invite=${code}`], {}).invite).toBe(code)
    // How `bun run admin invite` prints it, for this reason: a separate argument reads as a flag.
    expect(() => loadOptions(['--invite', code], {})).toThrow(UsageError)
    expect(() => loadOptions(['--invite=short'], {})).toThrow(UsageError)
  })

  test('--link-device is off unless given, and needs the name it joins as', () => {
    expect(loadOptions(['--name', 'alice'], {}).linkDevice).toBe(false)
    expect(loadOptions(['--name', 'alice', '--link-device'], {}).linkDevice).toBe(true)
    expect(loadOptions(['--link-device'], { CHATBOX_NAME: 'alice' }).linkDevice).toBe(true)
    expect(() => loadOptions(['--link-device'], {})).toThrow(
      '--link-device needs --name NAME (or CHATBOX_NAME): the name you hold',
    )
    // A linked device makes its own key: an imported one would be another device's.
    expect(() =>
      loadOptions(['--name', 'alice', '--link-device', '--import-identity', 'alice.json'], {}),
    ).toThrow(UsageError)
    expect(USAGE).toMatch(/^ {2}--link-device {9}join as another device of --name/m)
  })

  test('--verbose is off unless given', () => {
    expect(loadOptions([], {}).verbose).toBe(false)
    expect(loadOptions(['--verbose'], {}).verbose).toBe(true)
  })

  test('history limits come from flags or the environment, 1000 messages and 30 days by default', () => {
    expect(loadOptions([], {})).toMatchObject({ historyMessages: 1000, historyDays: 30 })
    expect(
      loadOptions(['--history-messages', '0', '--history-days', '7'], {
        CHATBOX_HISTORY_MESSAGES: '50',
      }),
    ).toMatchObject({ historyMessages: 0, historyDays: 7 })
    expect(loadOptions([], { CHATBOX_HISTORY_MESSAGES: '50' }).historyMessages).toBe(50)
    expect(() => loadOptions(['--history-days', '0'], {})).toThrow(
      '--history-days must be at least 1',
    )
    expect(() => loadOptions(['--history-messages', 'all'], {})).toThrow(
      '--history-messages must be a whole number',
    )
  })

  test('colour is on unless --no-color or a non-empty NO_COLOR turns it off', () => {
    expect(loadOptions([], {}).color).toBe(true)
    expect(loadOptions(['--no-color'], {}).color).toBe(false)
    expect(loadOptions([], { NO_COLOR: '1' }).color).toBe(false)
    expect(loadOptions([], { NO_COLOR: 'anything' }).color).toBe(false)
    // no-color.org: an empty NO_COLOR is as good as unset.
    expect(loadOptions([], { NO_COLOR: '' }).color).toBe(true)
  })

  test('an unknown flag is a usage error', () => {
    expect(() => loadOptions(['--nope'], {})).toThrow(UsageError)
  })
})
