// The HTTP side of the web port (a Hono app): the page, /healthz and the security headers every
// response carries. WebSocket upgrades are the server's, before this app sees the request.
import { Hono } from 'hono'

/**
 * No inline script or style and no other origin; `connect-src 'self'` covers `wss://` to this
 * same host and port in current browsers.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'Strict-Transport-Security': 'max-age=31536000',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
}

export function withSecurityHeaders(response: Response): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value)
  return response
}

export interface HealthReport {
  readonly ok: true
  readonly members: number
  readonly uptimeSeconds: number
}

const PLACEHOLDER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chatbox</title>
</head>
<body>
<h1>chatbox</h1>
<p>This chatbox server is running. Its web client is not part of this version yet;
clients connect to <code>/ws</code> on this port or to the terminal port.</p>
</body>
</html>
`

export function createHttpApp(health: () => HealthReport): Hono {
  const app = new Hono()
  app.use(async (context, next) => {
    await next()
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) context.header(name, value)
  })
  app.get('/', (context) => context.html(PLACEHOLDER_PAGE))
  app.get('/healthz', (context) => context.json(health()))
  return app
}
