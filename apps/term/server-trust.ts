// Whether to trust the server's certificate: the local CA (for localhost), a --ca file, the
// system store, or a self-signed certificate the user pinned on first use (like ssh's
// known_hosts). A pinned server that shows another certificate is refused. No chat logic here.

import { createHash, X509Certificate } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { rootCertificates } from 'node:tls'
import * as v from 'valibot'
import { neutralizeLine } from './neutralize.ts'
import type { ServerAddress } from './options.ts'

export class TrustError extends Error {}

/** Nothing answers at the address, or it cannot be reached at all: a wrong address, likely. */
export class UnreachableError extends TrustError {}

/** Why the address could not be reached, in words for a person who may have mistyped it. */
function unreachable(address: ServerAddress, error: Error & { code?: string }): UnreachableError {
  if (error.code === 'ECONNREFUSED') {
    return new UnreachableError(
      `nothing answers at ${address.label}: is the server running, and is this its terminal port?`,
    )
  }
  if (error.code === 'ENOTFOUND') {
    return new UnreachableError(`cannot reach ${address.label}: no host is named ${address.host}`)
  }
  return new UnreachableError(`cannot reach ${address.label}: ${error.message}`)
}

const KnownHostsSchema = v.record(
  v.string(),
  v.object({ sha256: v.string(), pem: v.string(), pinnedAt: v.number() }),
)
type KnownHosts = v.InferOutput<typeof KnownHostsSchema>

export interface CertificateSeen {
  readonly sha256: string
  /**
   * SHA-256 of the public key (SPKI DER), hex: the server's identity, the same whichever of its
   * names (`localhost`, `127.0.0.1`) was dialled, and across a renewal that keeps the key.
   */
  readonly spkiSha256: string
  /** As the certificate spells them: the server's words, to neutralize before showing. */
  readonly subject: string
  readonly issuer: string
  readonly selfSigned: boolean
  readonly pem: string
}

export interface TrustOptions {
  readonly address: ServerAddress
  /** --ca: a PEM file to trust for this server. */
  readonly caFile?: string
  /** CA files to trust when the server is on this machine (the dev CA `bun run serve` made). */
  readonly localCaFiles: readonly string[]
  readonly knownHostsFile: string
  /** Asks the user whether to pin an unknown self-signed certificate; absent when unattended. */
  readonly ask?: (seen: CertificateSeen) => Promise<boolean>
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1'])

export interface Trusted {
  /** The CA list to connect with (undefined: the system store). */
  readonly ca: string[] | undefined
  /** The server's identity as seen in the handshake: its key's SPKI SHA-256, hex. */
  readonly serverId: string
}

/** The CA list to connect with; throws TrustError with what to do when there is none. */
export async function establishTrust(options: TrustOptions): Promise<Trusted> {
  const { address } = options
  const anchors: string[] = []
  if (options.caFile) {
    try {
      anchors.push(readFileSync(options.caFile, 'utf8'))
    } catch (error) {
      throw new TrustError(`cannot read --ca ${options.caFile}: ${(error as Error).message}`)
    }
  } else if (LOOPBACK.has(address.host)) {
    for (const file of options.localCaFiles)
      if (existsSync(file)) anchors.push(readFileSync(file, 'utf8'))
  }
  const known = readKnownHosts(options.knownHostsFile)
  const pin = known[address.label]
  if (pin) anchors.push(pin.pem)
  // Giving Bun any CA replaces the system store, so keep the system's roots alongside.
  const ca = anchors.length > 0 ? [...rootCertificates, ...anchors] : undefined

  const first = await probe(address, ca)
  if (first.trusted) return { ca, serverId: first.seen.spkiSha256 }
  const seen = first.seen
  if (pin) {
    throw new TrustError(
      `the certificate of ${address.label} has CHANGED since you pinned it.\n` +
        `  pinned SHA-256: ${pin.sha256}\n  now    SHA-256: ${seen.sha256}\n` +
        'This can mean someone is intercepting the connection. If the server really got a new ' +
        `certificate, check its fingerprint with the operator, remove the "${address.label}" ` +
        `entry from ${options.knownHostsFile}, and connect again to pin the new one.`,
    )
  }
  if (!seen.selfSigned) {
    throw new TrustError(
      `cannot verify ${address.label}: its certificate (SHA-256 ${seen.sha256}) is issued by ` +
        `"${neutralizeLine(seen.issuer)}", which this machine does not trust (${first.reason}). ` +
        "Get that CA's certificate from the server (its certs/ca.pem; `bun run serve` prints " +
        'its fingerprint) and pass --ca FILE.',
    )
  }
  if (!options.ask) {
    throw new TrustError(
      `${address.label} has an unknown self-signed certificate (SHA-256 ${seen.sha256}). ` +
        'Run the client interactively once to check and pin it, or pass --ca FILE.',
    )
  }
  if (!(await options.ask(seen))) throw new TrustError('not connecting to an untrusted server')
  known[address.label] = { sha256: seen.sha256, pem: seen.pem, pinnedAt: Date.now() }
  writeKnownHosts(options.knownHostsFile, known)
  const pinned = [...rootCertificates, ...anchors, seen.pem]
  const second = await probe(address, pinned)
  if (!second.trusted)
    throw new TrustError(`still cannot verify ${address.label}: ${second.reason}`)
  return { ca: pinned, serverId: second.seen.spkiSha256 }
}

type ProbeResult =
  | { readonly trusted: true; readonly seen: CertificateSeen }
  | { readonly trusted: false; readonly reason: string; readonly seen: CertificateSeen }

/** One TLS handshake with full verification, to learn whether it passes and what was shown. */
function probe(address: ServerAddress, ca: string[] | undefined): Promise<ProbeResult> {
  const { promise, resolve, reject } = Promise.withResolvers<ProbeResult>()
  Bun.connect({
    hostname: address.host,
    port: address.port,
    tls: { ca, serverName: address.host, rejectUnauthorized: true },
    socket: {
      handshake(socket, success, authorizationError) {
        if (success && !authorizationError) {
          resolve({ trusted: true, seen: describe(socket.getPeerCertificate()) })
        } else {
          resolve({
            trusted: false,
            reason: authorizationError?.message ?? 'the handshake failed',
            seen: describe(socket.getPeerCertificate()),
          })
        }
        socket.terminate()
      },
      data() {},
      error(_socket, error) {
        reject(new TrustError(`TLS with ${address.label} failed: ${error.message}`))
      },
      connectError(_socket, error) {
        reject(unreachable(address, error))
      },
    },
  }).catch((error: Error) => reject(unreachable(address, error)))
  return promise
}

function describe(cert: ReturnType<Bun.Socket['getPeerCertificate']>): CertificateSeen {
  const subject = distinguishedName(cert.subject)
  const issuer = distinguishedName(cert.issuer)
  const base64 = Buffer.from(cert.raw).toString('base64')
  const lines = base64.match(/.{1,64}/g) ?? []
  const spki = new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' })
  return {
    sha256: cert.fingerprint256,
    spkiSha256: createHash('sha256').update(spki).digest('hex'),
    subject,
    issuer,
    selfSigned: subject === issuer,
    pem: `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`,
  }
}

function distinguishedName(name: object | undefined): string {
  return Object.entries(name ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(', ')
}

function readKnownHosts(file: string): KnownHosts {
  if (!existsSync(file)) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    throw new TrustError(`${file} is damaged (not JSON); fix or delete it to pin servers again`)
  }
  const result = v.safeParse(KnownHostsSchema, parsed)
  if (!result.success)
    throw new TrustError(`${file} is damaged; fix or delete it to pin servers again`)
  return result.output
}

function writeKnownHosts(file: string, known: KnownHosts): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const temporary = join(dirname(file), `.known_hosts.${process.pid}.tmp`)
  writeFileSync(temporary, `${JSON.stringify(known, null, 2)}\n`, { mode: 0o600 })
  chmodSync(temporary, 0o600)
  renameSync(temporary, file)
}
