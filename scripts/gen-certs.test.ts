// Tests for `bun run certs`: the command line over apps/server/certs.ts, run as its own process.
import 'reflect-metadata'
import { expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as x509 from '@peculiar/x509'
import { certificateFingerprint, certificatePaths } from '../apps/server/certs.ts'
import { temporaryDirectory } from '../tests/support/harness.ts'

const SCRIPT = join(import.meta.dir, 'gen-certs.ts')

function read(file: string): string {
  return readFileSync(file, 'utf8')
}

async function runCli(args: string[]) {
  const child = Bun.spawn([process.execPath, SCRIPT, ...args], {
    cwd: join(import.meta.dir, '..'),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ])
  return { stdout, stderr, exitCode }
}

test('the CLI generates once, refuses to overwrite without --force, and rejects unknown flags', async () => {
  using dir = temporaryDirectory('chatbox-certs-')
  const first = await runCli(['--dir', dir, '--host', 'example.test'])
  expect(first.exitCode).toBe(0)
  const fingerprint = await certificateFingerprint(read(certificatePaths(dir).caCert))
  expect(first.stdout).toContain(`CA SHA-256 fingerprint: ${fingerprint}`)
  expect(first.stdout).toContain(certificatePaths(dir).serverKey)
  const server = new x509.X509Certificate(read(certificatePaths(dir).serverCert))
  const names = server.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()
  expect(names).toContainEqual({ type: 'dns', value: 'example.test' })

  const again = await runCli(['--dir', dir])
  expect(again.exitCode).toBe(1)
  expect(again.stderr).toContain('--force')
  expect(await certificateFingerprint(read(certificatePaths(dir).caCert))).toBe(fingerprint)

  const forced = await runCli(['--dir', dir, '--force'])
  expect(forced.exitCode).toBe(0)
  expect(forced.stdout).not.toContain(fingerprint)

  const bogus = await runCli(['--bogus'])
  expect(bogus.exitCode).toBe(2)
  expect(bogus.stderr).toContain('usage:')
  expect(bogus.stderr.trim().split('\n')).toHaveLength(1)
})

test('the CLI rejects a bad --host as a usage error and prints its usage on --help', async () => {
  using tmp = temporaryDirectory('chatbox-certs-')
  const dir = join(tmp, 'certs')
  const bad = await runCli(['--dir', dir, '--host', 'not a host'])
  expect(bad.exitCode).toBe(2)
  expect(bad.stderr).toContain('not a valid host')
  expect(bad.stderr).toContain('usage:')
  expect(existsSync(dir)).toBe(false)

  const help = await runCli(['--help'])
  expect(help.exitCode).toBe(0)
  expect(help.stdout.trim()).toBe(
    'usage: bun scripts/gen-certs.ts [--dir DIR] [--host NAME]... [--force]',
  )
})
