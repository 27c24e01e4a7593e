// Who may read /metrics. The counts say how busy the room is and who is refused from where: for
// the operator, not for whoever can reach the web port.
import { secretsEqual } from '../room/secret.ts'

/**
 * Whether a scrape from `address` with this Authorization header may read /metrics: 'ok', or the
 * status it is refused with. Without a token, only this machine may (every 127/8 address and
 * ::1, as IPv4 or mapped into IPv6); with one, whoever presents it, compared in constant time.
 */
export function metricsAccess(
  address: string,
  authorization: string | null,
  token: string | undefined,
): 'ok' | 401 | 403 {
  if (token === undefined) return isLoopback(address) ? 'ok' : 403
  const given = /^bearer +(\S+)\s*$/i.exec(authorization ?? '')?.[1]
  return given !== undefined && secretsEqual(given, token) ? 'ok' : 401
}

export function isLoopback(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}
