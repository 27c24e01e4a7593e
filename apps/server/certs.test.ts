// Tests for the development certificate generator: file layout, certificate contents, real TLS.
import 'reflect-metadata'
import { expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { AsnConvert } from '@peculiar/asn1-schema'
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints } from '@peculiar/asn1-x509'
import * as x509 from '@peculiar/x509'
import { selfSignedCertificate } from '../../tests/support/self-signed.ts'
import {
  type CertificatePaths,
  certificateFingerprint,
  certificatePaths,
  createDevelopmentCertificates,
  ensureCertificates,
  generateCertificates,
} from './certs.ts'

const DAY_MS = 24 * 60 * 60 * 1000
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-certs-'))
  try {
    await run(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function read(file: string): string {
  return readFileSync(file, 'utf8')
}

function loadCertificates(paths: CertificatePaths) {
  return {
    ca: new x509.X509Certificate(read(paths.caCert)),
    server: new x509.X509Certificate(read(paths.serverCert)),
  }
}

/** The CA's NameConstraints, decoded by the ASN.1 library rather than by the code under test. */
function permittedNames(ca: x509.X509Certificate) {
  const extension = ca.getExtension('2.5.29.30')
  if (!extension) return undefined
  const constraints = AsnConvert.parse(extension.value, NameConstraints)
  return {
    critical: extension.critical,
    excluded: constraints.excludedSubtrees,
    permitted: constraints.permittedSubtrees?.map(({ base }) =>
      base.dNSName !== undefined ? { dns: base.dNSName } : { ip: base.iPAddress },
    ),
  }
}

async function pem(key: CryptoKey): Promise<string> {
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', key)
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')
}

/** A server certificate for `names`, signed by `issuer`: what a thief of the CA key could make. */
async function leafSignedBy(
  issuer: { ca: x509.X509Certificate; caKeys: CryptoKeyPair },
  names: x509.JsonGeneralNames,
) {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01',
    subject: 'CN=leaf',
    issuer: issuer.ca.subjectName,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + DAY_MS),
    publicKey: keys.publicKey,
    signingKey: issuer.caKeys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
    ],
  })
  return { key: await pem(keys.privateKey), cert: cert.toString('pem') }
}

/** A CA like the old one (no name constraints), or with the constraints given. */
async function testCa(extensions: x509.Extension[] = []) {
  const caKeys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ])
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '02',
    name: 'CN=test CA',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + DAY_MS),
    keys: caKeys,
    signingAlgorithm: SIGNING,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), ...extensions],
  })
  return { ca, caKeys }
}

/** A real TLS handshake to `tls` on 127.0.0.1, trusting only `ca`: 'ok' or the client's error. */
async function handshake(tls: { key: string; cert: string }, ca: string, servername: string) {
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    tls,
    fetch: () => new Response('ok'),
  })
  try {
    const outcome = Promise.withResolvers<string>()
    const socket = connect({ host: '127.0.0.1', port: server.port, ca, servername })
    socket.once('secureConnect', () => outcome.resolve('ok'))
    socket.once('error', (error: Error) => outcome.resolve(error.message))
    const result = await outcome.promise
    socket.destroy()
    return result
  } finally {
    server.stop(true)
  }
}

test('generateCertificates writes the CA, the server certificate and its key, and no CA key', async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, 'certs')
    const paths = await generateCertificates({ dir })

    expect(paths).toEqual(certificatePaths(dir))
    expect(readdirSync(dir).sort()).toEqual(['ca.pem', 'server-key.pem', 'server.pem'])
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(paths.serverKey).mode & 0o777).toBe(0o600)
    expect(read(paths.serverKey)).toStartWith('-----BEGIN PRIVATE KEY-----\n')
    for (const file of [paths.caCert, paths.serverCert]) {
      expect(read(file)).not.toContain('PRIVATE KEY')
      expect(read(file).match(/BEGIN CERTIFICATE/g)).toHaveLength(1)
    }
  })
})

test('the CA key made in memory cannot be exported', async () => {
  const { caKeys, serverKeys } = await createDevelopmentCertificates()
  expect(caKeys.privateKey.extractable).toBe(false)
  await expect(crypto.subtle.exportKey('pkcs8', caKeys.privateKey)).rejects.toThrow()
  expect(serverKeys.privateKey.extractable).toBe(true)
})

test('the server certificate is signed by the CA and names localhost, loopback IPs and extra hosts', async () => {
  await withTempDir(async (dir) => {
    const paths = await generateCertificates({
      dir,
      hosts: ['chatbox.lan', '192.168.1.50', 'fe80::1'],
    })
    const { ca, server } = loadCertificates(paths)

    expect(await server.verify({ publicKey: ca.publicKey })).toBe(true)
    expect(await ca.isSelfSigned()).toBe(true)
    expect(server.issuer).toBe(ca.subject)
    expect(server.subject).toBe('CN=localhost')
    expect(ca.subject).toStartWith(`CN=chatbox local CA (${hostname().slice(0, 20)}`)

    const san = server.getExtension(x509.SubjectAlternativeNameExtension)
    expect(san?.names.toJSON()).toEqual([
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
      { type: 'dns', value: 'chatbox.lan' },
      { type: 'ip', value: '192.168.1.50' },
      { type: 'ip', value: 'fe80::1' },
    ])

    const eku = server.getExtension(x509.ExtendedKeyUsageExtension)
    expect(eku?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth])
    const serverKeyUsage = server.getExtension(x509.KeyUsagesExtension)
    expect(serverKeyUsage?.usages).toBe(x509.KeyUsageFlags.digitalSignature)
    expect(serverKeyUsage?.critical).toBe(true)
    expect(server.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false)
    expect(server.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    )

    const caConstraints = ca.getExtension(x509.BasicConstraintsExtension)
    expect(caConstraints?.ca).toBe(true)
    expect(caConstraints?.pathLength).toBe(0)
    expect(caConstraints?.critical).toBe(true)
    expect(ca.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
    )
  })
})

test('the CA carries critical name constraints permitting exactly the configured DNS names', async () => {
  await withTempDir(async (dir) => {
    const plain = loadCertificates(await generateCertificates({ dir })).ca
    expect(permittedNames(plain)).toEqual({
      critical: true,
      excluded: undefined,
      permitted: [{ dns: 'localhost' }],
    })

    const hosts = ['chat.example', '192.168.1.50', 'fe80::1', 'bücher.example']
    const { ca } = loadCertificates(await generateCertificates({ dir, hosts }))
    expect(permittedNames(ca)?.permitted).toEqual([
      { dns: 'localhost' },
      { dns: 'chat.example' },
      { dns: 'xn--bcher-kva.example' },
    ])
  })
})

test('a TLS client trusting only the CA refuses a certificate it signed for any other name', async () => {
  const made = await createDevelopmentCertificates({ hosts: ['chat.example'] })
  const caPem = made.ca.toString('pem')

  // Within the constraints the CA's signature is accepted, subdomains included...
  const inside = await leafSignedBy(made, [{ type: 'dns', value: 'chat.example' }])
  expect(await handshake(inside, caPem, 'chat.example')).toBe('ok')
  const below = await leafSignedBy(made, [{ type: 'dns', value: 'files.chat.example' }])
  expect(await handshake(below, caPem, 'files.chat.example')).toBe('ok')
  // ...a certificate for a name outside them is refused, though name and chain otherwise match.
  const outside = await leafSignedBy(made, [{ type: 'dns', value: 'bank.example' }])
  expect(await handshake(outside, caPem, 'bank.example')).toBe('permitted subtree violation')

  // The same certificate from an unconstrained CA is accepted: the refusal is the constraints'.
  const old = await testCa()
  const oldLeaf = await leafSignedBy(old, [{ type: 'dns', value: 'bank.example' }])
  expect(await handshake(oldLeaf, old.ca.toString('pem'), 'bank.example')).toBe('ok')
})

test('Bun refuses any chain whose CA constrains IP addresses, which is why ours does not', async () => {
  // If this starts to pass "ok", Bun has learnt IP constraints: add them to the CA's.
  const subtrees = [{ dNSName: 'localhost' }, { iPAddress: '127.0.0.1/32' }].map(
    (base) => new GeneralSubtree({ base: new GeneralName(base) }),
  )
  const constraints = new NameConstraints({ permittedSubtrees: new GeneralSubtrees(subtrees) })
  const value = AsnConvert.serialize(constraints)
  const ipConstrained = await testCa([new x509.Extension('2.5.29.30', true, value)])
  const leaf = await leafSignedBy(ipConstrained, [
    { type: 'dns', value: 'localhost' },
    { type: 'ip', value: '127.0.0.1' },
  ])
  const caPem = ipConstrained.ca.toString('pem')
  expect(await handshake(leaf, caPem, 'localhost')).toBe('unsupported name constraint type')
})

test('certificates last 90 days from an hour ago, the server one ending with its CA', async () => {
  await withTempDir(async (dir) => {
    const before = Date.now()
    const { ca, server } = loadCertificates(await generateCertificates({ dir }))

    for (const cert of [ca, server]) {
      expect(cert.notBefore.getTime()).toBeLessThanOrEqual(before - 59 * 60 * 1000)
      expect(cert.notAfter.getTime() - before).toBeGreaterThan(89.9 * DAY_MS)
      expect(cert.notAfter.getTime() - before).toBeLessThanOrEqual(90 * DAY_MS + 60_000)
      // 16 bytes, high bit clear: positive without a padding byte.
      expect(cert.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/)
    }
    expect(server.notAfter.getTime()).toBeLessThanOrEqual(ca.notAfter.getTime())
    expect(ca.serialNumber).not.toBe(server.serialNumber)
  })
})

test('a TLS client that trusts only ca.pem connects by IP and by localhost, and fails without it', async () => {
  await withTempDir(async (dir) => {
    const paths = await generateCertificates({ dir })
    const caPem = read(paths.caCert)
    const server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      tls: { key: read(paths.serverKey), cert: read(paths.serverCert) },
      fetch: () => new Response('ok'),
    })
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        const response = await fetch(`https://${host}:${server.port}/`, { tls: { ca: caPem } })
        expect(await response.text()).toBe('ok')
      }
      // Without the CA the chain is unknown, so the same server must be refused.
      await expect(fetch(`https://127.0.0.1:${server.port}/`)).rejects.toThrow(/certificate/)
    } finally {
      server.stop(true)
    }
  })
})

test('ensureCertificates creates the files once and leaves them untouched afterwards', async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, 'nested', 'certs')
    const first = await ensureCertificates({ dir })
    expect(first.created).toBe(true)
    const files = [first.paths.caCert, first.paths.serverCert, first.paths.serverKey]
    const snapshot = files.map((f) => [read(f), statSync(f).mtimeMs])

    const second = await ensureCertificates({ dir, hosts: ['ignored.test'] })
    expect(second).toEqual({ paths: first.paths, created: false })
    expect(files.map((f) => [read(f), statSync(f).mtimeMs])).toEqual(snapshot)
  })
})

test('ensureCertificates regenerates the whole set when one file is missing', async () => {
  await withTempDir(async (dir) => {
    const { paths } = await ensureCertificates({ dir })
    const oldCa = read(paths.caCert)
    rmSync(paths.serverKey)

    const again = await ensureCertificates({ dir })
    expect(again.created).toBe(true)
    expect(read(paths.caCert)).not.toBe(oldCa)
    const { ca, server } = loadCertificates(paths)
    expect(await server.verify({ publicKey: ca.publicKey })).toBe(true)
  })
})

test('ensureCertificates keeps a set with more than 30 days left and remakes one with fewer', async () => {
  await withTempDir(async (dir) => {
    const now = Date.now()
    const { paths } = await ensureCertificates({ dir, now: now - 59 * DAY_MS })
    const kept = read(paths.caCert)
    expect(await ensureCertificates({ dir, now })).toEqual({ paths, created: false })
    expect(read(paths.caCert)).toBe(kept)

    await generateCertificates({ dir, now: now - 61 * DAY_MS })
    const ends = new Date(now + 29 * DAY_MS).toISOString().slice(0, 10)
    const soon = await ensureCertificates({ dir, now })
    expect(soon.created).toBe(true)
    expect(soon.replaced).toBe(`the server certificate expires on ${ends}`)
    expect(loadCertificates(paths).server.notAfter.getTime()).toBeGreaterThan(now + 89 * DAY_MS)

    await generateCertificates({ dir, now: now - 91 * DAY_MS })
    const expired = await ensureCertificates({ dir, now })
    expect(expired.replaced).toStartWith('the server certificate expired on ')
    const { ca, server } = loadCertificates(paths)
    expect(await server.verify({ publicKey: ca.publicKey })).toBe(true)
  })
})

test('ensureCertificates replaces an older version’s set and deletes its CA key', async () => {
  await withTempDir(async (dir) => {
    const paths = await generateCertificates({ dir })
    // What an older version left: the CA's key beside the server.
    await Bun.write(join(dir, 'ca-key.pem'), '-----BEGIN PRIVATE KEY-----\n')
    const result = await ensureCertificates({ dir })
    expect(result.replaced).toBe("the CA's private key (ca-key.pem) was kept beside the server")
    expect(existsSync(join(dir, 'ca-key.pem'))).toBe(false)
    expect(permittedNames(loadCertificates(paths).ca)?.critical).toBe(true)
  })
})

test('ensureCertificates never touches certificates it did not make, even expired ones', async () => {
  await withTempDir(async (dir) => {
    const paths = certificatePaths(dir)
    const own = await selfSignedCertificate()
    await Bun.write(paths.caCert, own.cert)
    await Bun.write(paths.serverCert, own.cert)
    await Bun.write(paths.serverKey, own.key)
    // A year on, that certificate has long expired; it is still the operator's to replace.
    const result = await ensureCertificates({ dir, now: Date.now() + 365 * DAY_MS })
    expect(result).toEqual({ paths, created: false })
    expect(read(paths.serverCert)).toBe(own.cert)
  })
})

test('certificateFingerprint is the colon-separated uppercase SHA-256 of the first certificate DER', async () => {
  await withTempDir(async (dir) => {
    const paths = await generateCertificates({ dir })
    const caPem = read(paths.caCert)
    const fingerprint = await certificateFingerprint(caPem)

    expect(fingerprint).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/)
    const der = new Uint8Array(x509.PemConverter.decodeFirst(caPem))
    const expected = new Bun.CryptoHasher('sha256').update(der).digest('hex')
    expect(fingerprint.replaceAll(':', '').toLowerCase()).toBe(expected)

    // A key block ahead of the certificate must not be mistaken for it.
    expect(await certificateFingerprint(read(paths.serverKey) + caPem)).toBe(fingerprint)
    await expect(certificateFingerprint(read(paths.serverKey))).rejects.toThrow('CERTIFICATE')
  })
})

test('an invalid extra host is rejected before anything is written', async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, 'certs')
    await expect(generateCertificates({ dir, hosts: ['not a host'] })).rejects.toThrow(
      'not a valid host',
    )
    await expect(generateCertificates({ dir, hosts: ['fe80::1%eth0'] })).rejects.toThrow('zone')
    expect(existsSync(dir)).toBe(false)
  })
})
