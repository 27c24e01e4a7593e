// Owns the development TLS material: a local CA plus a localhost server certificate it signs. The
// server makes them when missing or due; `bun run certs` (scripts/gen-certs.ts) makes them on
// demand. The CA's private key never reaches the disk: it signs one server certificate in memory
// and is dropped, so whoever takes this host cannot sign for another site with a CA that users
// installed; the CA's name constraints would make clients refuse such a certificate anyway.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { domainToASCII } from 'node:url'
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API
// before x509 loads: this side-effect import must stay above the x509 imports.
import 'reflect-metadata'
import type { JsonGeneralName, JsonGeneralNames, X509Certificate } from '@peculiar/x509'
import * as x509 from '@peculiar/x509'
import { concatBytes } from '../../shared/crypto/fingerprint.ts'

x509.cryptoProvider.set(crypto)

export interface CertificatePaths {
  dir: string
  caCert: string
  serverCert: string
  serverKey: string
}

/** The CA and the server certificate it signed, with their keys, as made in memory. */
export interface DevelopmentCertificates {
  readonly ca: X509Certificate
  /** Not extractable: generateCertificates signs with it and never writes it anywhere. */
  readonly caKeys: CryptoKeyPair
  readonly server: X509Certificate
  readonly serverKeys: CryptoKeyPair
}

const KEY_ALGORITHM: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' }
const SIGNING_ALGORITHM: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' }
const HOUR_MS = 60 * 60 * 1000
const DAY_MS = 24 * HOUR_MS
// A CA installed system-wide is a standing risk: 90 days bounds how long a stolen server key, or
// a CA key taken from memory while it existed, is worth anything, and how long a forgotten trust
// entry stays live. The server certificate ends with its CA.
const VALIDITY_DAYS = 90
// Remade at start inside this window, so a server restarted now and then never reaches the end.
const RENEW_WITHIN_DAYS = 30
// RFC 5280 caps commonName at 64 characters; some validators enforce it.
const MAX_COMMON_NAME = 64
const CA_NAME_PREFIX = 'chatbox local CA ('
const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1']
// Older versions kept the CA key here; it is removed whenever the set is remade.
const LEGACY_CA_KEY = 'ca-key.pem'
const NAME_CONSTRAINTS_OID = '2.5.29.30'

export function certificatePaths(dir: string): CertificatePaths {
  // Absolute paths stay valid when the caller changes directory after asking.
  const root = resolve(dir)
  return {
    dir: root,
    caCert: join(root, 'ca.pem'),
    serverCert: join(root, 'server.pem'),
    serverKey: join(root, 'server-key.pem'),
  }
}

/** Makes a CA limited to `hosts` (plus localhost and loopback) and a server certificate it signed. */
export async function createDevelopmentCertificates(
  options: { hosts?: string[]; now?: number } = {},
): Promise<DevelopmentCertificates> {
  // Validate before any key work, so a bad host costs nothing.
  const altNames = subjectAltNames(options.hosts ?? [])
  const now = options.now ?? Date.now()
  // Backdating absorbs clock skew between this machine and the devices that will connect.
  const notBefore = new Date(now - HOUR_MS)
  const notAfter = new Date(now + VALIDITY_DAYS * DAY_MS)

  const caKeys = await generateKeyPair(false)
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [caCommonName()] }],
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      // pathLength 0: this CA may sign leaf certificates but never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
      nameConstraintsExtension(altNames),
    ],
  })

  const serverKeys = await generateKeyPair(true)
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: ['localhost'] }],
    issuer: ca.subjectName,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // Key identifiers let clients pick the right issuer without comparing names and signatures.
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey),
      new x509.SubjectAlternativeNameExtension(altNames),
    ],
  })
  return { ca, caKeys, server, serverKeys }
}

/** Writes ca.pem, server.pem and server-key.pem (0600); the CA key is not written. */
export async function generateCertificates(options: {
  dir: string
  hosts?: string[]
  now?: number
}): Promise<CertificatePaths> {
  // Made (and the hosts checked) before the directory, so a typo in --host leaves nothing behind.
  const made = await createDevelopmentCertificates(options)
  const paths = certificatePaths(options.dir)
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 })
  writeAtomically(paths.caCert, certificatePem(made.ca), 0o644)
  writeAtomically(paths.serverCert, certificatePem(made.server), 0o644)
  writeAtomically(paths.serverKey, await privateKeyPem(made.serverKeys.privateKey), 0o600)
  rmSync(join(paths.dir, LEGACY_CA_KEY), { force: true })
  return paths
}

/**
 * Makes the certificates when any file is missing, or remakes a set this module made when it is
 * due: the server certificate ends within RENEW_WITHIN_DAYS (or has ended), or the set is an older
 * version's (a CA key beside it, no name constraints). `replaced` says why a set was remade.
 * Certificates someone else put here are never touched.
 */
export async function ensureCertificates(options: {
  dir: string
  hosts?: string[]
  now?: number
}): Promise<{ paths: CertificatePaths; created: boolean; replaced?: string }> {
  const paths = certificatePaths(options.dir)
  if (![paths.caCert, paths.serverCert, paths.serverKey].every((file) => existsSync(file))) {
    // A lone survivor (say ca.pem) would no longer match the rest, so all are replaced.
    return { paths: await generateCertificates(options), created: true }
  }
  const replaced = renewalReason(paths, options.now ?? Date.now())
  if (replaced === undefined) return { paths, created: false }
  return { paths: await generateCertificates(options), created: true, replaced }
}

/** Why a set this module made should be remade now, or undefined to keep it. */
function renewalReason(paths: CertificatePaths, now: number): string | undefined {
  let ca: X509Certificate
  let server: X509Certificate
  try {
    ca = new x509.X509Certificate(readFileSync(paths.caCert, 'utf8'))
    server = new x509.X509Certificate(readFileSync(paths.serverCert, 'utf8'))
  } catch {
    // Not PEM this module wrote: whoever put it here manages it.
    return undefined
  }
  const ours = ca.subject.startsWith(`CN=${CA_NAME_PREFIX}`) && server.issuer === ca.subject
  if (!ours) return undefined
  if (existsSync(join(paths.dir, LEGACY_CA_KEY))) {
    return `the CA's private key (${LEGACY_CA_KEY}) was kept beside the server`
  }
  if (!ca.getExtension(NAME_CONSTRAINTS_OID)) return 'the CA had no name constraints'
  const end = Math.min(ca.notAfter.getTime(), server.notAfter.getTime())
  if (end - now >= RENEW_WITHIN_DAYS * DAY_MS) return undefined
  const day = new Date(end).toISOString().slice(0, 10)
  return `the server certificate ${end <= now ? 'expired' : 'expires'} on ${day}`
}

/** SHA-256 of the first certificate's DER in a PEM, as uppercase hex pairs joined by ':' (like openssl -fingerprint). */
export async function certificateFingerprint(pem: string): Promise<string> {
  // Bundles may lead with a key or another block; only a CERTIFICATE block has a meaningful print.
  const block = x509.PemConverter.decodeWithHeaders(pem).find(
    (item) => item.type === x509.PemConverter.CertificateTag,
  )
  if (!block) throw new Error('no CERTIFICATE block found in PEM')
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', block.rawData))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0').toUpperCase()).join(':')
}

/** Throws, naming the host, when one cannot go in a certificate; nothing is written. */
export function checkCertificateHosts(hosts: string[]): void {
  subjectAltNames(hosts)
}

function subjectAltNames(hosts: string[]): JsonGeneralNames {
  const names: JsonGeneralNames = []
  const seen = new Set<string>()
  for (const host of [...DEFAULT_HOSTS, ...hosts]) {
    const name = generalName(host)
    const key = `${name.type}:${name.value}`
    if (seen.has(key)) continue
    seen.add(key)
    names.push(name)
  }
  return names
}

function generalName(host: string): JsonGeneralName {
  // People paste IPv6 addresses in URL form; the brackets are not part of the address.
  const trimmed = host.trim().replace(/^\[(.*)\]$/, '$1')
  const family = isIP(trimmed)
  if (family === 4) return { type: 'ip', value: trimmed }
  if (family === 6) {
    // Zone IDs (fe80::1%eth0) are local to this machine and cannot appear in a certificate.
    if (trimmed.includes('%')) throw new Error(`IPv6 zone IDs cannot go in a certificate: ${host}`)
    // The x509 encoder only reads pure hex groups, so embedded IPv4 (::ffff:1.2.3.4) is rewritten.
    return { type: 'ip', value: new URL(`http://[${trimmed}]`).hostname.slice(1, -1) }
  }
  // dNSName is IA5String: international names must be stored as punycode, compared lowercase.
  const ascii = domainToASCII(trimmed)
  // An empty result means the name is invalid; an IP result means a shorthand like "10.1" that
  // clients would never send as a DNS name.
  if (!ascii || isIP(ascii)) throw new Error(`not a valid host name or IP address: ${host}`)
  return { type: 'dns', value: ascii }
}

/**
 * Permits the DNS names the server certificate holds (and their subdomains, as RFC 5280 defines
 * it): a certificate this CA signed for any other DNS name fails validation in clients that trust
 * it. IP addresses are left unconstrained: Bun's TLS (BoringSSL) refuses every chain whose CA
 * constrains them ("unsupported name constraint type"), which would lock out the terminal client
 * and any Bun or Node client connecting by address. Critical, as RFC 5280 requires; x509 2.2 has
 * no class for it, so the DER is built here around the library's own encoding of each name.
 */
function nameConstraintsExtension(names: JsonGeneralNames): x509.Extension {
  const subtrees = names
    .filter((name) => name.type === 'dns')
    .map((name) => der(0x30, new Uint8Array(new x509.GeneralName(name.type, name.value).rawData)))
  // NameConstraints ::= SEQUENCE { permittedSubtrees [0] IMPLICIT GeneralSubtrees }; localhost is
  // always among the names, so the list is never empty.
  return new x509.Extension(
    NAME_CONSTRAINTS_OID,
    true,
    der(0x30, der(0xa0, concatBytes(...subtrees))),
  )
}

/** One DER tag-length-value; lengths are short or long form as DER requires. */
function der(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = content.length
  if (length > 0xffff) throw new Error('too many host names for one certificate')
  const header =
    length < 0x80
      ? [tag, length]
      : length < 0x100
        ? [tag, 0x81, length]
        : [tag, 0x82, length >> 8, length & 0xff]
  return concatBytes(new Uint8Array(header), content)
}

function caCommonName(): string {
  const room = MAX_COMMON_NAME - CA_NAME_PREFIX.length - 1
  return `${CA_NAME_PREFIX}${hostname().slice(0, room)})`
}

function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  // Clearing the top bit keeps the DER INTEGER positive, and setting the next one keeps it exactly
  // 16 bytes long (no leading 0x00 to add or strip), so every serial has the same size.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

function generateKeyPair(extractable: boolean): Promise<CryptoKeyPair> {
  // Only the server's private key is extractable, as it has to be written to disk as PKCS#8.
  return crypto.subtle.generateKey(KEY_ALGORITHM, extractable, ['sign', 'verify'])
}

function certificatePem(cert: X509Certificate): string {
  return `${cert.toString('pem').trim()}\n`
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', key)
  return `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY').trim()}\n`
}

function writeAtomically(file: string, contents: string, mode: number): void {
  // A fresh temporary file gets the mode at creation, so a new key is never readable by others even
  // when it replaces a file that was; the rename then swaps it in without a half-written window.
  const temp = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(temp, contents, { mode, flag: 'wx' })
    // The umask can only remove bits; chmod makes the final mode exact either way.
    chmodSync(temp, mode)
    renameSync(temp, file)
  } catch (error) {
    rmSync(temp, { force: true })
    throw error
  }
}

/** Which of the files already exist, counting an older version's CA key. */
export function existingCertificateFiles(paths: CertificatePaths): string[] {
  const files = [paths.caCert, paths.serverCert, paths.serverKey, join(paths.dir, LEGACY_CA_KEY)]
  return files.filter((file) => existsSync(file))
}
