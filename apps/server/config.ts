// The server's settings: environment variables, overridden by flags, checked by one schema.
// A bad value becomes one line that says what to do, never a stack trace.
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import {
  DEFAULT_LOG_RETENTION,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_UNUSED_NAME_DAYS,
  DEFAULT_WRITE_BATCH_MS,
  MAX_CONFIGURABLE_FILE_BYTES,
} from '../../shared/protocol/limits.ts'
import { LOG_FORMATS } from './observe/event-log.ts'

const MEGABYTE = 1024 * 1024
const DAY_MS = 24 * 3_600_000

/** Each setting: its environment variable and flag, with the default the design names. */
export const SETTINGS = {
  host: { env: 'CHATBOX_HOST', flag: 'host', fallback: 'localhost' },
  webPort: { env: 'CHATBOX_WEB_PORT', flag: 'web-port', fallback: '8443' },
  termPort: { env: 'CHATBOX_TERM_PORT', flag: 'term-port', fallback: '8444' },
  certDir: { env: 'CHATBOX_CERT_DIR', flag: 'cert-dir', fallback: './certs' },
  dataDir: { env: 'CHATBOX_DATA_DIR', flag: 'data-dir', fallback: './data' },
  roomSecret: { env: 'CHATBOX_ROOM_SECRET', flag: 'room-secret', fallback: undefined },
  allowedOrigins: { env: 'CHATBOX_ALLOWED_ORIGINS', flag: 'allowed-origins', fallback: '' },
  maxFileBytes: {
    env: 'CHATBOX_MAX_FILE_BYTES',
    flag: 'max-file-bytes',
    fallback: String(DEFAULT_MAX_FILE_BYTES),
  },
  redisUrl: { env: 'CHATBOX_REDIS_URL', flag: 'redis-url', fallback: undefined },
  redisCa: { env: 'CHATBOX_REDIS_CA', flag: 'redis-ca', fallback: undefined },
  redisWaitReplicas: {
    env: 'CHATBOX_REDIS_WAIT_REPLICAS',
    flag: 'redis-wait-replicas',
    fallback: '0',
  },
  redisWaitSeconds: {
    env: 'CHATBOX_REDIS_WAIT_SECONDS',
    flag: 'redis-wait-seconds',
    fallback: '1',
  },
  leaveGraceSeconds: {
    env: 'CHATBOX_LEAVE_GRACE_SECONDS',
    flag: 'leave-grace-seconds',
    fallback: '120',
  },
  commitTimeoutSeconds: {
    env: 'CHATBOX_COMMIT_TIMEOUT_SECONDS',
    flag: 'commit-timeout-seconds',
    fallback: '5',
  },
  logMaxEntries: {
    env: 'CHATBOX_LOG_MAX_ENTRIES',
    flag: 'log-max-entries',
    fallback: String(DEFAULT_LOG_RETENTION.entries),
  },
  logMaxMegabytes: {
    env: 'CHATBOX_LOG_MAX_MB',
    flag: 'log-max-mb',
    fallback: String(DEFAULT_LOG_RETENTION.bytes / MEGABYTE),
  },
  logMaxDays: {
    env: 'CHATBOX_LOG_MAX_DAYS',
    flag: 'log-max-days',
    fallback: String(DEFAULT_LOG_RETENTION.ageMs / DAY_MS),
  },
  unusedNameDays: {
    env: 'CHATBOX_UNUSED_NAME_DAYS',
    flag: 'unused-name-days',
    fallback: String(DEFAULT_UNUSED_NAME_DAYS),
  },
  maxConnectionsPerAddress: {
    env: 'CHATBOX_MAX_CONNECTIONS_PER_ADDRESS',
    flag: 'max-connections-per-address',
    fallback: String(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS),
  },
  batchMs: { env: 'CHATBOX_BATCH_MS', flag: 'batch-ms', fallback: String(DEFAULT_WRITE_BATCH_MS) },
  logFormat: { env: 'CHATBOX_LOG_FORMAT', flag: 'log-format', fallback: 'text' },
  metricsToken: { env: 'CHATBOX_METRICS_TOKEN', flag: 'metrics-token', fallback: undefined },
  inviteOnly: { env: 'CHATBOX_INVITE_ONLY', flag: 'invite-only', fallback: '0' },
  publicUrl: { env: 'CHATBOX_PUBLIC_URL', flag: 'public-url', fallback: undefined },
} as const

type SettingName = keyof typeof SETTINGS

/** Settings whose value is or may hold a secret (a Redis URL may carry a password). */
const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set([
  'roomSecret',
  'redisUrl',
  'metricsToken',
])

const Port = v.pipe(
  v.string(),
  v.regex(/^\d{1,5}$/, 'must be a port number'),
  v.transform(Number),
  v.maxValue(65_535, 'must be a port number up to 65535'),
)

const Origin = v.pipe(
  v.string(),
  v.url('must be an origin like https://chat.example:8443'),
  v.transform((text) => new URL(text)),
  v.check((url) => url.protocol === 'https:', 'must be an https:// origin'),
  v.check((url) => url.pathname === '/' && !url.search && !url.hash, 'must have no path'),
  v.transform((url) => url.origin),
)

const Origins = v.pipe(
  v.string(),
  v.transform((text) =>
    text
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ),
  v.array(Origin),
)

const Seconds = v.pipe(
  v.string(),
  v.regex(/^\d+(\.\d+)?$/, 'must be a number of seconds'),
  v.transform(Number),
  v.minValue(0.05, 'must be at least 0.05 seconds'),
  v.maxValue(86_400, 'must be at most 86400 seconds (a day)'),
)

const wholeNumber = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+$/, 'must be a whole number'),
    v.transform(Number),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  )

const ConfigSchema = v.object({
  host: v.pipe(v.string(), v.trim(), v.nonEmpty('must name an address to bind')),
  webPort: Port,
  termPort: Port,
  certDir: v.pipe(v.string(), v.nonEmpty('must name a directory')),
  dataDir: v.pipe(v.string(), v.nonEmpty('must name a directory')),
  roomSecret: v.optional(v.pipe(v.string(), v.minLength(8, 'must be at least 8 characters'))),
  allowedOrigins: Origins,
  maxFileBytes: v.pipe(
    v.string(),
    v.regex(/^\d+$/, 'must be a whole number of bytes'),
    v.transform(Number),
    v.minValue(1, 'must be at least 1'),
    v.maxValue(MAX_CONFIGURABLE_FILE_BYTES, 'must be at most 67108864 (64 MiB)'),
  ),
  logMaxEntries: wholeNumber(1, 100_000_000),
  logMaxMegabytes: wholeNumber(1, 1_000_000),
  maxConnectionsPerAddress: wholeNumber(1, 1_000_000),
  logMaxDays: wholeNumber(1, 36_500),
  // Every message waits up to this long in a busy room: more than a few ms would be felt.
  batchMs: wholeNumber(0, 20),
  leaveGraceSeconds: Seconds,
  commitTimeoutSeconds: Seconds,
  unusedNameDays: v.pipe(
    v.string(),
    v.regex(/^\d+$/, 'must be a whole number of days'),
    v.transform(Number),
    v.minValue(1, 'must be at least 1 day'),
    v.maxValue(36_500, 'must be at most 36500 days'),
  ),
  redisUrl: v.optional(
    v.pipe(
      v.string(),
      v.url('must be a URL like redis://localhost:6379'),
      v.check((text) => /^rediss?:\/\//.test(text), 'must start with redis:// or rediss://'),
    ),
  ),
  redisCa: v.optional(v.pipe(v.string(), v.nonEmpty('must name a PEM file'))),
  redisWaitReplicas: v.pipe(
    v.string(),
    v.regex(/^\d+$/, 'must be a whole number of replicas'),
    v.transform(Number),
    v.maxValue(16, 'must be at most 16'),
  ),
  // A wait holds up the instance's other commands, heartbeats among them (taken for dead at 3 s).
  redisWaitSeconds: v.pipe(Seconds, v.maxValue(2, 'must be at most 2 seconds')),
  logFormat: v.picklist(LOG_FORMATS, 'must be text or json'),
  inviteOnly: v.pipe(
    v.picklist(['0', '1', 'false', 'true', 'no', 'yes'], 'must be 1 or 0'),
    v.transform((text) => ['1', 'true', 'yes'].includes(text)),
  ),
  publicUrl: v.optional(Origin),
  // Sent in a header with every scrape: long enough not to be guessed, and nothing a header breaks.
  metricsToken: v.optional(
    v.pipe(
      v.string(),
      v.minLength(16, 'must be at least 16 characters'),
      v.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
    ),
  ),
})

export type ServerConfig = v.InferOutput<typeof ConfigSchema>

/** The page's address as members reach it: what invite links start with. */
export function pageUrl(config: Pick<ServerConfig, 'publicUrl' | 'host' | 'webPort'>): string {
  if (config.publicUrl) return `${config.publicUrl}/`
  return `https://${reachableHost(config.host)}:${config.webPort}/`
}

/** The terminal port as members reach it: the public address's host, or the one bound. */
export function terminalAddress(
  config: Pick<ServerConfig, 'publicUrl' | 'host' | 'termPort'>,
): string {
  const host = config.publicUrl ? new URL(config.publicUrl).hostname : reachableHost(config.host)
  return `${host}:${config.termPort}`
}

function reachableHost(bound: string): string {
  // A wildcard address is where the server listens, not one a client can be sent to.
  const host = ['0.0.0.0', '::', '[::]'].includes(bound) ? 'localhost' : bound
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

export class ConfigError extends Error {}

export const USAGE = `usage: bun run serve [${Object.values(SETTINGS)
  .map((setting) => `--${setting.flag} VALUE`)
  .join('] [')}]`

/** `--help`: every setting's flag, environment variable and default; README's Settings say more. */
export function helpText(): string {
  const rows = Object.values(SETTINGS).map((setting) => [
    `--${setting.flag} VALUE`,
    setting.env,
    setting.fallback === undefined
      ? '(none)'
      : setting.fallback === ''
        ? '(empty)'
        : setting.fallback,
  ])
  const widths = [0, 1].map((column) =>
    Math.max(...rows.map((row) => (row[column] as string).length)),
  )
  const lines = rows.map(
    ([flag, env, fallback]) =>
      `  ${(flag as string).padEnd(widths[0] as number)}  ${(env as string).padEnd(widths[1] as number)}  ${fallback}`,
  )
  return [
    'usage: bun run serve [--FLAG VALUE]...',
    '',
    'Runs the chatbox server. Each setting is a flag or an environment variable (the flag wins);',
    'README.md, "Settings", says what each does. Keep the room secret in the environment: a flag',
    'shows in `ps`.',
    '',
    `  ${'flag'.padEnd(widths[0] as number)}  ${'environment'.padEnd(widths[1] as number)}  default`,
    ...lines,
  ].join('\n')
}

/** Whether the command line asks for the help text rather than a server. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h')
}

/** Reads flags over environment over defaults; throws ConfigError with one line to show. */
export function loadConfig(argv: string[], env: Record<string, string | undefined>): ServerConfig {
  let flags: Record<string, string | boolean | undefined>
  try {
    flags = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.values(SETTINGS).map((setting) => [setting.flag, { type: 'string' as const }]),
      ),
    }).values
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n${USAGE}`)
  }
  const raw: Partial<Record<SettingName, string>> = {}
  for (const [name, setting] of Object.entries(SETTINGS) as [
    SettingName,
    (typeof SETTINGS)[SettingName],
  ][]) {
    const value = flags[setting.flag] ?? env[setting.env] ?? setting.fallback
    if (typeof value === 'string') raw[name] = value
  }
  const result = v.safeParse(ConfigSchema, raw)
  if (!result.success) {
    const issue = result.issues[0]
    const name = issue?.path?.[0]?.key as SettingName | undefined
    const setting = name ? SETTINGS[name] : undefined
    const where = setting ? `${setting.env} (--${setting.flag}) ` : ''
    // A secret in the output would reach terminals, logs and CI transcripts: it is never shown.
    const shown =
      name && SECRET_SETTINGS.has(name) ? ' (the value is not shown)' : `: got "${issue?.input}"`
    throw new ConfigError(`${where}${issue?.message ?? 'is invalid'}${shown}`)
  }
  return result.output
}
