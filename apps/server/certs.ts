// Owns the development TLS material: a local CA plus a localhost server certificate it signs. The
// server makes them when missing; `bun run certs` (scripts/gen-certs.ts) makes them on demand.
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { domainToASCII } from 'node:url'
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API
// before x509 loads: this side-effect import must stay above the x509 imports.
import 'reflect-metadata'
import type { JsonGeneralName, JsonGeneralNames, X509Certificate } from '@peculiar/x509'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(crypto)

export interface CertificatePaths {
  dir: string
  caCert: string
  caKey: string
  serverCert: string
  serverKey: string
}

const KEY_ALGORITHM: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' }
const SIGNING_ALGORITHM: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' }
const HOUR_MS = 60 * 60 * 1000
const DAY_MS = 24 * HOUR_MS
// Apple platforms reject server certificates valid for more than 398 days, even from private CAs.
const SERVER_VALIDITY_DAYS = 397
const CA_VALIDITY_YEARS = 10
// RFC 5280 caps commonName at 64 characters; some validators enforce it.
const MAX_COMMON_NAME = 64
const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1']

export function certificatePaths(dir: string): CertificatePaths {
  // Absolute paths stay valid when the caller changes directory after asking.
  const root = resolve(dir)
  return {
    dir: root,
    caCert: join(root, 'ca.pem'),
    caKey: join(root, 'ca-key.pem'),
    serverCert: join(root, 'server.pem'),
    serverKey: join(root, 'server-key.pem'),
  }
}

export async function generateCertificates(options: {
  dir: string
  hosts?: string[]
}): Promise<CertificatePaths> {
  // Validate before any key work so a typo in --host cannot leave a half-written directory.
  const altNames = subjectAltNames(options.hosts ?? [])
  const paths = certificatePaths(options.dir)
  const now = Date.now()
  // Backdating absorbs clock skew between this machine and the devices that will connect.
  const notBefore = new Date(now - HOUR_MS)

  const caKeys = await generateKeyPair()
  const caNotAfter = new Date(now)
  caNotAfter.setUTCFullYear(caNotAfter.getUTCFullYear() + CA_VALIDITY_YEARS)
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [caCommonName()] }],
    notBefore,
    notAfter: caNotAfter,
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
    ],
  })

  const serverKeys = await generateKeyPair()
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: ['localhost'] }],
    issuer: ca.subjectName,
    notBefore,
    notAfter: new Date(now + SERVER_VALIDITY_DAYS * DAY_MS),
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

  mkdirSync(paths.dir, { recursive: true, mode: 0o700 })
  writeAtomically(paths.caCert, certificatePem(ca), 0o644)
  writeAtomically(paths.caKey, await privateKeyPem(caKeys.privateKey), 0o600)
  writeAtomically(paths.serverCert, certificatePem(server), 0o644)
  writeAtomically(paths.serverKey, await privateKeyPem(serverKeys.privateKey), 0o600)
  return paths
}

/** Makes the certificates only when any of the four files is missing; `created` says whether it did. */
export async function ensureCertificates(options: {
  dir: string
  hosts?: string[]
}): Promise<{ paths: CertificatePaths; created: boolean }> {
  const paths = certificatePaths(options.dir)
  if (existingCertificateFiles(paths).length === 4) return { paths, created: false }
  // A lone survivor (say ca.pem) would no longer match the rest, so all four are replaced.
  return { paths: await generateCertificates(options), created: true }
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

function caCommonName(): string {
  const prefix = 'chatbox local CA ('
  const room = MAX_COMMON_NAME - prefix.length - 1
  return `${prefix}${hostname().slice(0, room)})`
}

function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  // Clearing the top bit keeps the DER INTEGER positive, and setting the next one keeps it exactly
  // 16 bytes long (no leading 0x00 to add or strip), so every serial has the same size.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

function generateKeyPair(): Promise<CryptoKeyPair> {
  // Extractable because the private key has to be written to disk as PKCS#8.
  return crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])
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

/** Which of the four files already exist. */
export function existingCertificateFiles(paths: CertificatePaths): string[] {
  return [paths.caCert, paths.caKey, paths.serverCert, paths.serverKey].filter((f) => existsSync(f))
}
