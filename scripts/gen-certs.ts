// `bun run certs`: makes the development CA and localhost server certificate (apps/server/certs.ts)
// from the command line, refusing to overwrite existing files unless told to. The CA's key is not
// kept: running this again makes a new CA.
import { X509Certificate } from 'node:crypto'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import {
  certificateFingerprint,
  certificatePaths,
  checkCertificateHosts,
  existingCertificateFiles,
  generateCertificates,
} from '../apps/server/certs.ts'

const USAGE = 'usage: bun scripts/gen-certs.ts [--dir DIR] [--host NAME]... [--force]'

type CliOptions = { dir: string; hosts: string[]; force: boolean }

function parseCli(argv: string[]): CliOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      host: { type: 'string', multiple: true },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) return 'help'
  const dir = values.dir ?? (process.env.CHATBOX_CERT_DIR || './certs')
  if (dir.trim() === '') throw new Error('--dir must not be empty')
  const hosts = values.host ?? []
  // Check hosts up front so a bad one is reported as a usage error rather than a failed run.
  checkCertificateHosts(hosts)
  return { dir, hosts, force: values.force ?? false }
}

async function main(argv: string[]): Promise<number> {
  let options: CliOptions | 'help'
  try {
    options = parseCli(argv)
  } catch (error) {
    console.error(`gen-certs: ${(error as Error).message}; ${USAGE}`)
    return 2
  }
  if (options === 'help') {
    console.log(USAGE)
    return 0
  }

  const target = certificatePaths(options.dir)
  const existing = existingCertificateFiles(target).map((file) => basename(file))
  if (existing.length > 0 && !options.force) {
    console.error(
      `gen-certs: ${target.dir} already has ${existing.join(', ')}; use --force to overwrite`,
    )
    return 1
  }

  const paths = await generateCertificates({ dir: options.dir, hosts: options.hosts })
  const caPem = await Bun.file(paths.caCert).text()
  const until = new Date(new X509Certificate(caPem).validTo).toISOString().slice(0, 10)
  console.log(`CA certificate:     ${paths.caCert} (valid until ${until})`)
  console.log('CA private key:     not kept; it signed the server certificate and was discarded')
  console.log(`Server certificate: ${paths.serverCert}`)
  console.log(`Server private key: ${paths.serverKey}`)
  console.log(`CA SHA-256 fingerprint: ${await certificateFingerprint(caPem)}`)
  return 0
}

try {
  process.exit(await main(process.argv.slice(2)))
} catch (error) {
  console.error(`gen-certs: ${(error as Error).message}`)
  process.exit(1)
}
