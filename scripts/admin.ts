// Entry of `bun run admin`: the operator's commands, asked of the running server through its
// control socket, or done on the sqlite store directly when no server runs.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  answerControl,
  type ControlReply,
  type ControlRequest,
  INVITE_DAYS,
  membersTable,
} from '../apps/server/admin/control.ts'
import { askControlSocket } from '../apps/server/admin/control-socket.ts'
import { ConfigError, loadConfig, pageUrl, terminalAddress } from '../apps/server/config.ts'
import { openSqliteStore } from '../apps/server/store/sqlite-store.ts'
import { createLimits } from '../shared/protocol/limits.ts'

const HELP = `usage: bun run admin [--data-dir DIR] <command>

Acts on the running server through the control socket in its data directory, or on the
sqlite store in it when no server runs. Run it as the user the server runs as.

commands:
  members        every bound name: key fingerprint, online, in the MLS group, last seen
  release NAME   frees a name whose owner lost the key; its leaf leaves the group
  ban NAME       refuses the name's key from now on, disconnects it, removes its leaf
  unban NAME     lets the key banned under that name join again
  invite NAME    prints a one-time invite: the first key to use it binds NAME (the only
                 way to a new name when the server runs with CHATBOX_INVITE_ONLY=1)

options:
  --data-dir DIR   the server's data directory (CHATBOX_DATA_DIR; default ./data)
  --days N         how long an invite stays valid (default ${INVITE_DAYS.fallback}, at most ${INVITE_DAYS.max})
  --help           this text

With the server stopped, invite links use CHATBOX_PUBLIC_URL, or CHATBOX_HOST and
CHATBOX_WEB_PORT, as the server would.`

function fail(message: string, code = 1): never {
  console.error(`chatbox admin: ${message}`)
  process.exit(code)
}

function parse(argv: readonly string[], env: Record<string, string | undefined>) {
  const options = { dataDir: env.CHATBOX_DATA_DIR || './data', days: String(INVITE_DAYS.fallback) }
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const option = (['dataDir', 'days'] as const).find(
      (key) => arg === flagOf(key) || arg.startsWith(`${flagOf(key)}=`),
    )
    if (option) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i]
      if (!value) fail(`${flagOf(option)} needs a value`, 2)
      options[option] = value
    } else if (arg.startsWith('-')) fail(`unknown option ${arg}; see --help`, 2)
    else words.push(arg)
  }
  const days = Number(options.days)
  if (!Number.isInteger(days) || days < 1 || days > INVITE_DAYS.max) {
    fail(`--days must be a whole number from 1 to ${INVITE_DAYS.max}`, 2)
  }
  return { dataDir: options.dataDir, days, words }
}

const flagOf = (key: 'dataDir' | 'days') => (key === 'dataDir' ? '--data-dir' : '--days')

function request(words: readonly string[], days: number): ControlRequest {
  const [command, ...rest] = words
  if (command === 'members' && rest.length === 0) return { command: 'members' }
  if (command === 'invite' && rest.length === 1) return { command, name: rest[0] ?? '', days }
  for (const named of ['release', 'ban', 'unban'] as const) {
    if (command === named && rest.length === 1) return { command: named, name: rest[0] ?? '' }
  }
  if (command === undefined) fail('name a command; see --help', 2)
  fail(`unknown command "${words.join(' ')}"; see --help`, 2)
}

/** With no server running, the same answer from the store itself (only sqlite can be opened). */
async function answerFromStore(dataDir: string, asked: ControlRequest): Promise<ControlReply> {
  if (process.env.CHATBOX_REDIS_URL) {
    fail('with Redis, admin commands go through a running server; none answers here')
  }
  if (!existsSync(join(dataDir, 'chatbox.sqlite'))) fail(`no chatbox store in ${dataDir}`)
  const store = openSqliteStore(dataDir, createLimits().logRetention)
  try {
    // Stopped, the link is built from the same settings the server would start with.
    const config = (() => {
      try {
        return loadConfig([], process.env)
      } catch (error) {
        if (error instanceof ConfigError) fail(error.message)
        throw error
      }
    })()
    const context = {
      pageUrl: pageUrl(config),
      terminalAddress: terminalAddress(config),
      now: Date.now,
      randomBytes: (length: number) => crypto.getRandomValues(new Uint8Array(length)),
    }
    return await answerControl(store, context)(asked)
  } finally {
    store.close()
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP)
    return
  }
  const { dataDir, days, words } = parse(argv, process.env)
  const asked = request(words, days)
  const reply = (await askControlSocket(dataDir, asked)) ?? (await answerFromStore(dataDir, asked))
  if (!reply.ok) fail(reply.error)
  console.log('members' in reply ? membersTable(reply.members) : reply.done)
}

await main()
