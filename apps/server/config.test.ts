import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig, pageUrl, terminalAddress } from './config.ts'

describe('loadConfig', () => {
  test('uses the design’s defaults when nothing is set', () => {
    expect(loadConfig([], {})).toEqual({
      host: 'localhost',
      webPort: 8443,
      termPort: 8444,
      certDir: './certs',
      dataDir: './data',
      roomSecret: undefined,
      allowedOrigins: [],
      maxFileBytes: 1_048_576,
      redisUrl: undefined,
      redisCa: undefined,
      redisWaitReplicas: 0,
      redisWaitSeconds: 1,
      leaveGraceSeconds: 120,
      commitTimeoutSeconds: 5,
      logMaxEntries: 100_000,
      logMaxMegabytes: 256,
      logMaxDays: 30,
      unusedNameDays: 30,
      maxConnectionsPerAddress: 64,
      batchMs: 3,
      logFormat: 'text',
      metricsToken: undefined,
      inviteOnly: false,
      publicUrl: undefined,
    })
  })

  test('reads invite-only as yes or no, and builds invite links on the page’s address', () => {
    expect(loadConfig(['--invite-only', '1'], {}).inviteOnly).toBe(true)
    expect(loadConfig([], { CHATBOX_INVITE_ONLY: 'yes' }).inviteOnly).toBe(true)
    expect(() => loadConfig([], { CHATBOX_INVITE_ONLY: 'maybe' })).toThrow(
      'CHATBOX_INVITE_ONLY (--invite-only) must be 1 or 0: got "maybe"',
    )
    expect(pageUrl(loadConfig([], { CHATBOX_HOST: '0.0.0.0', CHATBOX_WEB_PORT: '9443' }))).toBe(
      'https://localhost:9443/',
    )
    expect(pageUrl(loadConfig([], { CHATBOX_HOST: '::1' }))).toBe('https://[::1]:8443/')
    const behindProxy = loadConfig([], { CHATBOX_PUBLIC_URL: 'https://chat.example' })
    expect(pageUrl(behindProxy)).toBe('https://chat.example/')
    expect(terminalAddress(behindProxy)).toBe('chat.example:8444')
    expect(terminalAddress(loadConfig([], { CHATBOX_HOST: '::' }))).toBe('localhost:8444')
  })

  test('takes the environment, and flags over the environment', () => {
    const config = loadConfig(['--web-port', '9000', '--allowed-origins', 'https://chat.example'], {
      CHATBOX_WEB_PORT: '7000',
      CHATBOX_TERM_PORT: '7001',
      CHATBOX_ROOM_SECRET: 'correct horse',
      CHATBOX_ALLOWED_ORIGINS: 'https://ignored.example',
    })
    expect(config.webPort).toBe(9000)
    expect(config.termPort).toBe(7001)
    expect(config.roomSecret).toBe('correct horse')
    expect(config.allowedOrigins).toEqual(['https://chat.example'])
  })

  test('normalises a list of origins and refuses one with a path or without https', () => {
    expect(
      loadConfig([], { CHATBOX_ALLOWED_ORIGINS: 'https://a.example:8443, https://B.example' })
        .allowedOrigins,
    ).toEqual(['https://a.example:8443', 'https://b.example'])
    expect(() => loadConfig([], { CHATBOX_ALLOWED_ORIGINS: 'https://a.example/chat' })).toThrow(
      'CHATBOX_ALLOWED_ORIGINS (--allowed-origins) must have no path',
    )
    expect(() => loadConfig([], { CHATBOX_ALLOWED_ORIGINS: 'http://a.example' })).toThrow(
      'must be an https:// origin',
    )
  })

  test('a bad value is one line naming the setting, its flag and what is wrong', () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [[], { CHATBOX_WEB_PORT: 'http' }, 'CHATBOX_WEB_PORT (--web-port) must be a port number'],
      [['--term-port', '70000'], {}, 'CHATBOX_TERM_PORT (--term-port) must be a port number up to'],
      [
        [],
        { CHATBOX_MAX_FILE_BYTES: '-1' },
        'CHATBOX_MAX_FILE_BYTES (--max-file-bytes) must be a whole',
      ],
      [
        [],
        { CHATBOX_ROOM_SECRET: 'short' },
        'CHATBOX_ROOM_SECRET (--room-secret) must be at least 8',
      ],
      [[], { CHATBOX_REDIS_URL: 'http://x' }, 'must start with redis:// or rediss://'],
      [
        ['--max-connections-per-address', '0'],
        {},
        'CHATBOX_MAX_CONNECTIONS_PER_ADDRESS (--max-connections-per-address) must be at least 1',
      ],
      [['--wat'], {}, "Unknown option '--wat'"],
      [[], { CHATBOX_LOG_FORMAT: 'xml' }, 'CHATBOX_LOG_FORMAT (--log-format) must be text or json'],
      [['--batch-ms', '50'], {}, 'CHATBOX_BATCH_MS (--batch-ms) must be at most 20: got "50"'],
      [
        [],
        { CHATBOX_METRICS_TOKEN: 'short-token' },
        'CHATBOX_METRICS_TOKEN (--metrics-token) must be at least 16 characters (the value is not shown)',
      ],
    ]
    for (const [argv, env, message] of cases) {
      let thrown: unknown
      try {
        loadConfig(argv, env)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(ConfigError)
      expect((thrown as Error).message).toContain(message)
    }
  })

  test('takes the event log format and a metrics token, and never shows the token', () => {
    const token = 'a-metrics-token-0123456789'
    expect(loadConfig(['--log-format', 'json'], { CHATBOX_METRICS_TOKEN: token })).toMatchObject({
      logFormat: 'json',
      metricsToken: token,
    })
    expect(() => loadConfig([], { CHATBOX_METRICS_TOKEN: `${token} with spaces` })).toThrow(
      'CHATBOX_METRICS_TOKEN (--metrics-token) must be printable ASCII without spaces (the value is not shown)',
    )
  })
})
