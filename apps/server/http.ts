// The HTTP side of the web port: the page, /healthz and /client.json (a Hono app), the /ws
// upgrade with its Origin check, /metrics for the operator, and the security headers every
// response carries.
import type { Server } from 'bun'
import { Hono } from 'hono'
import type { WebAssets } from '../web/build.ts'
import type { EventSink } from './observe/events.ts'
import { PROMETHEUS_CONTENT_TYPE } from './observe/metrics.ts'
import { metricsAccess } from './observe/metrics-access.ts'
import type { WebSocketState } from './transports/wss.ts'

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

/**
 * Whether the server can serve now: all /healthz tells anyone. Who is here, or how many, is not
 * for strangers.
 */
export type HealthCheck = () => Promise<boolean>

/** The built page and what it needs to know of this server's limits. */
export interface WebClient {
  /** Rejects when the page could not be built; the server still serves everything else. */
  readonly assets: Promise<WebAssets>
  readonly maxFileBytes: number
}

/** Where `/ws` leads: the origins whose pages may open it, and the new socket's state. */
export interface WebSocketEntry {
  /** Known once the server listens: its own origins depend on its port. */
  origins(): ReadonlySet<string>
  /** The socket's first state, from the caller's address. */
  initialState(remoteAddress: string): WebSocketState
}

/** What the operator sees of the web port: /metrics, and the event log for refused pages. */
export interface OperatorEntry {
  /** When set, /metrics needs `Authorization: Bearer TOKEN`, from anywhere; else only loopback. */
  readonly metricsToken?: string
  /** The Prometheus text exposition. */
  metrics(): Promise<string>
  readonly events: EventSink
}

async function serveMetrics(
  request: Request,
  address: string,
  operator: OperatorEntry,
): Promise<Response> {
  const access = metricsAccess(address, request.headers.get('authorization'), operator.metricsToken)
  if (access === 401) {
    const refused = new Response('a bearer token is needed\n', {
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="chatbox metrics"' },
    })
    return withSecurityHeaders(refused)
  }
  if (access === 403) {
    const advice = 'only this machine may read /metrics; set CHATBOX_METRICS_TOKEN for others\n'
    return withSecurityHeaders(new Response(advice, { status: 403 }))
  }
  const body = await operator.metrics()
  return withSecurityHeaders(
    new Response(body, {
      headers: { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' },
    }),
  )
}

/**
 * The web port's whole fetch: `/ws` upgrades (only for pages of a listed origin) without going
 * through the app, whose per-request context a burst of joins does not need; the rest is the app.
 */
export function createWebFetch(
  health: HealthCheck,
  web: WebClient,
  webSockets: WebSocketEntry,
  operator: OperatorEntry,
): (request: Request, server: Server<WebSocketState>) => Response | Promise<Response> | undefined {
  const app = createHttpApp(health, web)
  return (request, server) => {
    const { pathname } = new URL(request.url)
    const remoteAddress = server.requestIP(request)?.address ?? 'unknown'
    if (pathname === '/metrics' && request.method === 'GET') {
      return serveMetrics(request, remoteAddress, operator)
    }
    if (pathname !== '/ws') return app.fetch(request)
    // Browsers always send Origin on a WebSocket; only a page of a listed origin may open one (no
    // cross-site WebSocket hijacking). Programs that send none are not pages.
    const origin = request.headers.get('origin')
    if (origin !== null && !webSockets.origins().has(origin)) {
      const refused = { event: 'refused', code: 'origin_not_allowed', fatal: true } as const
      operator.events({ ...refused, transport: 'wss', address: remoteAddress })
      return withSecurityHeaders(new Response('origin not allowed\n', { status: 403 }))
    }
    if (server.upgrade(request, { data: webSockets.initialState(remoteAddress) })) return undefined
    return withSecurityHeaders(new Response('expected a WebSocket upgrade\n', { status: 426 }))
  }
}

export function createHttpApp(health: HealthCheck, web: WebClient): Hono {
  const app = new Hono()
  app.use(async (context, next) => {
    await next()
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) context.header(name, value)
  })
  app.get('/healthz', async (context) => {
    const ok = await health()
    return context.json({ ok }, ok ? 200 : 503)
  })
  // The page asks before it joins: a server started with a larger file limit must not have its
  // users' files truncated at the default.
  app.get('/client.json', (context) => context.json({ maxFileBytes: web.maxFileBytes }))
  app.get('*', async (context, next) => {
    let assets: WebAssets
    try {
      assets = await web.assets
    } catch {
      return context.text('the web client could not be built; see the server log\n', 500)
    }
    const asset = assets.get(context.req.path)
    if (!asset) return next()
    context.header('Content-Type', asset.contentType)
    // The page itself is revalidated so a new build is picked up; its files are named by hash.
    context.header(
      'Cache-Control',
      asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    )
    return context.body(asset.body)
  })
  return app
}
