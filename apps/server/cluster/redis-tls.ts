// TLS to Redis for rediss:// URLs: Redis's certificate is checked against the CA given (the
// system's CAs without one) and the URL's host, never skipped. Bun's Redis client says only
// "Connection closed" when that check fails, so a failed connection is tried once more with
// node:tls, which says why. Knows nothing of the room or of settings.
import { connect } from 'node:tls'
import type { RedisOptions } from 'bun'

const DEFAULT_TLS_PORT = 6379
const DIAGNOSIS_TIMEOUT_MS = 3000

export function isTlsUrl(url: string): boolean {
  return /^(rediss|redis\+tls):\/\//.test(url)
}

/** The client's TLS option: the CA to check against, or the system's (Bun's default for rediss). */
export function redisTls(ca: string | undefined): Pick<RedisOptions, 'tls'> {
  return ca ? { tls: { ca, rejectUnauthorized: true } } : {}
}

/**
 * Why a TLS handshake with the Redis at `url` fails, checked as the client checks it; undefined
 * when it succeeds (the failure was something else) or cannot be tried.
 */
export async function tlsFailure(url: string, ca: string | undefined): Promise<string | undefined> {
  let host: string
  let port: number
  try {
    const parsed = new URL(url)
    host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
    port = Number(parsed.port || DEFAULT_TLS_PORT)
  } catch {
    return undefined
  }
  const { promise, resolve } = Promise.withResolvers<string | undefined>()
  const socket = connect({ host, port, ca, rejectUnauthorized: true })
  const timer = setTimeout(() => resolve(undefined), DIAGNOSIS_TIMEOUT_MS)
  socket.once('secureConnect', () => resolve(undefined))
  socket.once('error', (error: NodeJS.ErrnoException) => {
    // Only a refused certificate is news here; a closed port is reported as it is.
    resolve(
      error.code && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(error.code)
        ? error.message
        : undefined,
    )
  })
  try {
    return await promise
  } finally {
    clearTimeout(timer)
    socket.destroy()
  }
}
