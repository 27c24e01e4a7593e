// Keeps the README's wire demonstration true: `bun run demo` runs, checks itself and says so.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

const ROOT = joinPath(import.meta.dir, '..')

function demoDirectories(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('chatbox-demo-'))
}

describe('bun run demo', () => {
  test('shows TLS 1.3 records on both sockets, only ciphertext at the server, and the plaintext at the clients', async () => {
    const before = demoDirectories()
    const started = performance.now()
    const child = Bun.spawn(['bun', 'run', 'demo'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
    const [output, errors] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ])
    expect(await child.exited).toBe(0)
    expect(performance.now() - started).toBeLessThan(15_000)
    expect(errors.trim()).toBe('$ bun scripts/demo.ts')

    const lines = output.split('\n')
    expect(output).not.toContain('FAILED')
    expect(output).not.toContain('FOUND')
    for (const label of ['alice ⇄ server (WSS)', 'bob ⇄ server (raw TLS)']) {
      const at = lines.findIndex((line) => line.startsWith(`  ${label}: `))
      expect(at).toBeGreaterThan(0)
      expect(lines[at + 1]).toMatch(/^ {4}→ 16 03 01 .+ ClientHello$/)
      expect(lines[at + 2]).toMatch(/^ {4}← 16 03 03 .+ ServerHello: TLS 1\.3 \(0x0304\), TLS_AES_/)
      expect(lines[at + 3]).toMatch(/^ {4}← 17 03 03 .+ application_data: encrypted from here on$/)
      expect(lines[at + 4]).toEndWith('any JSON in these bytes: none found')
    }
    expect(output).toMatch(
      /← \{"type":"app","seq":\d+,"from":"alice",.*"ciphertext":"[\w-]{16}…\(\d+ chars\)"/,
    )
    expect(output).toContain('base64url fields decoded too): none found')
    expect(output).toMatch(/ {2}log #\d+ \{"type":"app","seq":\d+,"from":"bob",/)
    // Every file there is scanned: the database, and its write-ahead log when a checkpointer on a
    // loaded machine still held it open as the server stopped.
    expect(output).toMatch(
      /anywhere in the data directory \((chatbox\.sqlite(-wal|-shm)?(, )?)+[\d,]+ bytes\): none found/,
    )
    expect(output).toContain("… in the log's base64url fields, decoded: none found")
    expect(output).toContain('  bob sees    alice: The vault code is 7-4-1-9; tell nobody.')
    expect(output).toContain('  alice sees  bob sent merger-plans.txt (68 bytes')
    expect(output).toContain('              | Project Heron: we buy ACME on Friday at 9:00.')
    expect(output).toMatch(/room code {3}alice (\d{4}-\d{4}-\d{4}), bob \1/)
    expect(lines.filter((line) => line.trim() !== '').at(-1)).toStartWith('Both layers held: ')
    // Its temporary directory (certificates, store, any capture) is gone.
    expect(demoDirectories()).toEqual(before)
  })
})
