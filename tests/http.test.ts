import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { connectTls, join, startTestServer } from './support/harness.ts'
import { hasRedis, startRedis } from './support/redis.ts'

const redisMissing = !hasRedis()

// Real servers and child processes on a shared two-core machine: more than Bun's 5 s default.
setDefaultTimeout(30_000)

describe('the web port over HTTPS', () => {
  test('the page carries a strict CSP, HSTS, nosniff, no framing and no referrer', async () => {
    await using server = await startTestServer()
    const response = await fetch(`https://localhost:${server.webPort}/`, { tls: { ca: server.ca } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/html')
    const csp = response.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(response.headers.get('referrer-policy')).toBe('no-referrer')
    expect(await response.text()).not.toContain('<script>')
  })

  test('/healthz says only that the server is healthy, never who or how many are here', async () => {
    await using server = await startTestServer()
    await using alice = await connectTls(server)
    await join(alice, 'alice')
    const response = await fetch(`https://127.0.0.1:${server.webPort}/healthz`, {
      tls: { ca: server.ca },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('application/json')
    expect(await response.json()).toEqual({ ok: true })
  })

  test.skipIf(redisMissing)('/healthz answers 503 while the store (Redis) is away', async () => {
    await using redis = await startRedis()
    // Losing Redis is expected here: the cluster's own report of it would only be noise.
    await using server = await startTestServer({ redis: { url: redis.url, reportError() {} } })
    const health = async () => {
      const response = await fetch(`https://127.0.0.1:${server.webPort}/healthz`, {
        tls: { ca: server.ca },
      })
      return { status: response.status, body: await response.json() }
    }
    expect(await health()).toEqual({ status: 200, body: { ok: true } })
    await redis.kill()
    expect(await health()).toEqual({ status: 503, body: { ok: false } })
  })

  test('an unknown path is 404 and still carries the security headers', async () => {
    await using server = await startTestServer()
    const response = await fetch(`https://127.0.0.1:${server.webPort}/nope`, {
      tls: { ca: server.ca },
    })
    expect(response.status).toBe(404)
    expect(response.headers.get('x-frame-options')).toBe('DENY')
  })
})
