// Tests for the development certificate generator: file layout, certificate contents, real TLS.
import 'reflect-metadata'
import { expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as x509 from '@peculiar/x509'
import {
  type CertificatePaths,
  certificateFingerprint,
  certificatePaths,
  ensureCertificates,
  generateCertificates,
} from './certs.ts'

const DAY_MS = 24 * 60 * 60 * 1000

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

test('generateCertificates writes the four PEM files with private keys readable only by the owner', async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, 'certs')
    const paths = await generateCertificates({ dir })

    expect(paths).toEqual(certificatePaths(dir))
    for (const file of [paths.caCert, paths.caKey, paths.serverCert, paths.serverKey]) {
      expect(existsSync(file)).toBe(true)
    }
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    for (const key of [paths.caKey, paths.serverKey]) {
      expect(statSync(key).mode & 0o777).toBe(0o600)
      expect(read(key)).toStartWith('-----BEGIN PRIVATE KEY-----\n')
    }
    expect(read(paths.serverCert).match(/BEGIN CERTIFICATE/g)).toHaveLength(1)
  })
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

test('certificates are backdated an hour, the server one stays under the 398-day browser limit', async () => {
  await withTempDir(async (dir) => {
    const before = Date.now()
    const { ca, server } = loadCertificates(await generateCertificates({ dir }))

    expect(server.notBefore.getTime()).toBeLessThanOrEqual(before - 59 * 60 * 1000)
    const serverLifetime = server.notAfter.getTime() - server.notBefore.getTime()
    expect(serverLifetime).toBeLessThan(398 * DAY_MS)
    expect(serverLifetime).toBeGreaterThan(396 * DAY_MS)
    expect(ca.notAfter.getTime() - before).toBeGreaterThan(9.9 * 365 * DAY_MS)
    for (const cert of [ca, server]) {
      // 16 bytes, high bit clear: positive without a padding byte.
      expect(cert.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/)
    }
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
    const files = [first.paths.caCert, first.paths.caKey, first.paths.serverCert]
    const snapshot = [...files, first.paths.serverKey].map((f) => [read(f), statSync(f).mtimeMs])

    const second = await ensureCertificates({ dir, hosts: ['ignored.test'] })
    expect(second.created).toBe(false)
    expect(second.paths).toEqual(first.paths)
    const after = [...files, first.paths.serverKey].map((f) => [read(f), statSync(f).mtimeMs])
    expect(after).toEqual(snapshot)
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
    expect(await certificateFingerprint(read(paths.caKey) + caPem)).toBe(fingerprint)
    await expect(certificateFingerprint(read(paths.caKey))).rejects.toThrow('CERTIFICATE')
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
