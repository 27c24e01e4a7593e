// The terminal client's settings: flags over environment over defaults, checked by one schema.
// Anything left unset is asked for at start-up (when there is a terminal to ask on).
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import { defaultConfigHome } from '../../shared/client/file-stores.ts'
import { DAY_MS, DEFAULT_HISTORY_LIMITS } from '../../shared/client/history.ts'
import { InviteCode } from '../../shared/protocol/frames.ts'
import { parseBytes } from './sizes.ts'

export const USAGE = `usage: bun run apps/term/client.ts [options]
  --server HOST:PORT    server's terminal port (default localhost:8444; env CHATBOX_SERVER)
  --name NAME           your name in the room (env CHATBOX_NAME)
  --secret SECRET       the room secret, if the server asks for one (env CHATBOX_ROOM_SECRET)
  --invite=CODE         an invite from the admin for --name (bun run admin invite NAME)
  --link-device         join as another device of --name: shows a link code to type as
                        /link CODE on a device where you are NAME already
  --ca FILE             trust this CA certificate for the server (PEM)
  --download-dir DIR    where received files are saved (default ~/Downloads/chatbox)
  --save-quota SIZE     save received files automatically up to SIZE per session, e.g. 20MiB;
                        later ones wait for /save N (default 100MiB; 0 = never; KiB, MiB and
                        K, M are 1024s, KB and MB 1000s; env CHATBOX_SAVE_QUOTA)
  --config-home DIR     identity, pins, group state and history go in DIR/chatbox
                        (default $XDG_CONFIG_HOME, else ~/.config)
  --export-identity FILE  write the identity kept for --server to FILE, sealed with a
                        passphrase (asked, or env CHATBOX_IDENTITY_PASSPHRASE), then exit
  --import-identity FILE  use the identity in FILE (from either client) for --server, then join
  --history-messages N  keep the last N messages on this device, sealed, and show them at the
                        next start (default 1000; 0 = keep none; env CHATBOX_HISTORY_MESSAGES)
  --history-days DAYS   forget kept messages older than DAYS (default 30; env
                        CHATBOX_HISTORY_DAYS)
  --bell, --no-bell     ring the terminal bell for a message that names you (default: on in
                        the chat screen, off in pipe mode, never with --json; env
                        CHATBOX_BELL=on|off)
  --no-color            plain text, no ANSI colours or dim (also when the env NO_COLOR is set
                        to anything but empty, as no-color.org asks)
  --verbose             show the MLS detail too: each change of the group with its epoch and
                        room code, every connection state
  --json                in pipe mode, print each event and notice as one JSON line
  --truncate            in pipe mode, send the head of an oversize file instead of refusing it
  --help                this text`

export class UsageError extends Error {}

const ServerAddress = v.pipe(
  v.string(),
  v.trim(),
  v.regex(
    /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/,
    'must be HOST or HOST:PORT, e.g. localhost:8444',
  ),
  v.transform((text) => {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text) as RegExpExecArray
    const host = (match[1] as string).replace(/^\[|\]$/g, '')
    const port = Number(match[2] ?? 8444)
    return { host, port, label: `${host.includes(':') ? `[${host}]` : host}:${port}` }
  }),
  v.check((address) => address.port > 0 && address.port <= 65_535, 'the port must be 1–65535'),
)

/**
 * What one session saves without being asked: 100 files at the default 1 MiB file limit, far more
 * than people exchange in a sitting, yet a peer flooding files (7–16 MB/s measured here) stops
 * being written to disk after seconds, not when the disk is full.
 */
export const DEFAULT_SAVE_QUOTA_BYTES = 100 * 1024 * 1024

/** `100MiB`, `512 KB`, `1.5G`, `2048` (bytes), `0`: the units sizes.ts reads. */
const ByteSize = v.pipe(
  v.string(),
  v.transform(parseBytes),
  v.number('must be a size such as 100MiB, 512KiB, 20MB or 0'),
  v.safeInteger('is too large'),
)

/** A whole number from a flag or the environment, within `min`–`max`. */
const Count = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d{1,9}$/, 'must be a whole number'),
    v.transform(Number),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  )

/** How people write a switch in the environment: on/off, yes/no, 1/0, true/false. */
const OnOff = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.picklist(['on', 'off', 'yes', 'no', '1', '0', 'true', 'false'], 'must be on or off'),
  v.transform((text) => ['on', 'yes', '1', 'true'].includes(text)),
)

const OptionsSchema = v.object({
  server: v.optional(ServerAddress),
  name: v.optional(v.string()),
  secret: v.optional(v.string()),
  invite: v.optional(v.pipe(v.string(), v.trim(), InviteCode)),
  ca: v.optional(v.pipe(v.string(), v.nonEmpty())),
  downloadDir: v.string(),
  saveQuota: ByteSize,
  configHome: v.string(),
  exportIdentity: v.optional(v.pipe(v.string(), v.nonEmpty())),
  importIdentity: v.optional(v.pipe(v.string(), v.nonEmpty())),
  historyMessages: Count(0, 1_000_000),
  historyDays: Count(1, 36_500),
  /** Unset: the client decides by mode (client.ts). */
  bell: v.optional(OnOff),
  /** Off by --no-color or a non-empty NO_COLOR; marks never depend on colour either way. */
  color: v.boolean(),
  /** Join as a new device of `name`, approved by one that holds it (needs `name`). */
  linkDevice: v.boolean(),
  json: v.boolean(),
  truncate: v.boolean(),
  verbose: v.boolean(),
})

export type TermOptions = v.InferOutput<typeof OptionsSchema>
export type ServerAddress = NonNullable<TermOptions['server']>

export function parseServerAddress(text: string): ServerAddress {
  const result = v.safeParse(ServerAddress, text)
  if (!result.success) throw new UsageError(`--server ${result.issues[0]?.message}`)
  return result.output
}

export function loadOptions(argv: string[], env: Record<string, string | undefined>): TermOptions {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        server: { type: 'string' },
        name: { type: 'string' },
        secret: { type: 'string' },
        invite: { type: 'string' },
        'link-device': { type: 'boolean' },
        ca: { type: 'string' },
        'download-dir': { type: 'string' },
        'save-quota': { type: 'string' },
        'config-home': { type: 'string' },
        'export-identity': { type: 'string' },
        'import-identity': { type: 'string' },
        'history-messages': { type: 'string' },
        'history-days': { type: 'string' },
        bell: { type: 'boolean' },
        'no-bell': { type: 'boolean' },
        'no-color': { type: 'boolean' },
        json: { type: 'boolean' },
        truncate: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }).values
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`)
  }
  if (values.help) throw new UsageError(USAGE)
  const result = v.safeParse(OptionsSchema, {
    server: values.server ?? env.CHATBOX_SERVER,
    name: values.name ?? env.CHATBOX_NAME,
    secret: values.secret ?? env.CHATBOX_ROOM_SECRET,
    invite: values.invite,
    ca: values.ca,
    downloadDir:
      (values['download-dir'] as string | undefined) ??
      env.CHATBOX_DOWNLOAD_DIR ??
      join(homedir(), 'Downloads', 'chatbox'),
    saveQuota:
      (values['save-quota'] as string | undefined) ??
      env.CHATBOX_SAVE_QUOTA ??
      String(DEFAULT_SAVE_QUOTA_BYTES),
    configHome: (values['config-home'] as string | undefined) ?? defaultConfigHome(env),
    exportIdentity: values['export-identity'],
    importIdentity: values['import-identity'],
    historyMessages:
      (values['history-messages'] as string | undefined) ??
      env.CHATBOX_HISTORY_MESSAGES ??
      String(DEFAULT_HISTORY_LIMITS.maxMessages),
    historyDays:
      (values['history-days'] as string | undefined) ??
      env.CHATBOX_HISTORY_DAYS ??
      String(DEFAULT_HISTORY_LIMITS.maxAgeMs / DAY_MS),
    bell: values['no-bell'] ? 'off' : values.bell ? 'on' : env.CHATBOX_BELL,
    color: values['no-color'] !== true && !env.NO_COLOR,
    linkDevice: values['link-device'] === true,
    json: values.json === true,
    truncate: values.truncate === true,
    verbose: values.verbose === true,
  })
  if (!result.success) {
    const issue = result.issues[0]
    const key = issue?.path?.[0]?.key
    const flag = String(key ?? '').replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
    throw new UsageError(`${flag ? `--${flag} ` : ''}${issue?.message}`)
  }
  const options = result.output
  // The code the device shows is made for its name, and a device that holds the name types it.
  if (options.linkDevice && !options.name) {
    throw new UsageError('--link-device needs --name NAME (or CHATBOX_NAME): the name you hold')
  }
  if (options.linkDevice && options.importIdentity) {
    throw new UsageError(
      '--link-device makes a new key for this device; --import-identity brings one: use one',
    )
  }
  return options
}
