// The server's settings: environment variables, overridden by flags, checked by one schema.
// A bad value becomes one line that says what to do, never a stack trace.
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import { DEFAULT_MAX_FILE_BYTES } from '../../shared/protocol/limits.ts'

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
} as const

type SettingName = keyof typeof SETTINGS

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
    v.maxValue(64 * 1024 * 1024, 'must be at most 67108864 (64 MiB)'),
  ),
  leaveGraceSeconds: Seconds,
  commitTimeoutSeconds: Seconds,
  redisUrl: v.optional(
    v.pipe(
      v.string(),
      v.url('must be a URL like redis://localhost:6379'),
      v.check((text) => /^rediss?:\/\//.test(text), 'must start with redis:// or rediss://'),
    ),
  ),
})

export type ServerConfig = v.InferOutput<typeof ConfigSchema>

export class ConfigError extends Error {}

export const USAGE = `usage: bun run serve [${Object.values(SETTINGS)
  .map((setting) => `--${setting.flag} VALUE`)
  .join('] [')}]`

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
    throw new ConfigError(`${where}${issue?.message ?? 'is invalid'}: got "${issue?.input}"`)
  }
  return result.output
}
