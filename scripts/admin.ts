// Entry of `bun run admin`: the operator's commands, asked of the running server through its
// control socket, or done on the sqlite store directly when no server runs.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  answerControl,
  type ControlReply,
  type ControlRequest,
  membersTable,
} from '../apps/server/admin/control.ts'
import { askControlSocket } from '../apps/server/admin/control-socket.ts'
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

options:
  --data-dir DIR   the server's data directory (CHATBOX_DATA_DIR; default ./data)
  --help           this text`

function fail(message: string, code = 1): never {
  console.error(`chatbox admin: ${message}`)
  process.exit(code)
}

function parse(argv: readonly string[], env: Record<string, string | undefined>) {
  let dataDir = env.CHATBOX_DATA_DIR || './data'
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (arg === '--data-dir') {
      const value = argv[++i]
      if (!value) fail('--data-dir needs a directory', 2)
      dataDir = value
    } else if (arg.startsWith('--data-dir=')) dataDir = arg.slice('--data-dir='.length)
    else if (arg.startsWith('-')) fail(`unknown option ${arg}; see --help`, 2)
    else words.push(arg)
  }
  return { dataDir, words }
}

function request(words: readonly string[]): ControlRequest {
  const [command, ...rest] = words
  if (command === 'members' && rest.length === 0) return { command: 'members' }
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
    return await answerControl(store)(asked)
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
  const { dataDir, words } = parse(argv, process.env)
  const asked = request(words)
  const reply = (await askControlSocket(dataDir, asked)) ?? (await answerFromStore(dataDir, asked))
  if (!reply.ok) fail(reply.error)
  console.log('members' in reply ? membersTable(reply.members) : reply.done)
}

await main()
