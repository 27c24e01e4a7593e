// TLS as an eavesdropper on the socket sees it: the record framing, each record's type, and the
// version and cipher suite the ServerHello settled on. Reads bytes only; decrypts nothing.

export interface TlsRecord {
  readonly type: number
  /** The whole record, its 5-byte header included. */
  readonly bytes: Uint8Array
}

const RECORD_TYPES: Record<number, string> = {
  20: 'change_cipher_spec',
  21: 'alert',
  22: 'handshake',
  23: 'application_data',
}
const CIPHER_SUITES = new Map([
  [0x1301, 'TLS_AES_128_GCM_SHA256'],
  [0x1302, 'TLS_AES_256_GCM_SHA384'],
  [0x1303, 'TLS_CHACHA20_POLY1305_SHA256'],
])
const TLS_VERSIONS = new Map([
  [0x0303, '1.2'],
  [0x0304, '1.3'],
])

export const APPLICATION_DATA = 23

export function recordTypeName(type: number): string {
  return RECORD_TYPES[type] ?? `type ${type}`
}

/** The records of one direction of a TLS stream; a cut-off last record keeps what arrived. */
export function tlsRecords(stream: Uint8Array): TlsRecord[] {
  const records: TlsRecord[] = []
  for (let at = 0; at + 5 <= stream.length; ) {
    const length = ((stream[at + 3] ?? 0) << 8) | (stream[at + 4] ?? 0)
    records.push({ type: stream[at] ?? 0, bytes: stream.subarray(at, at + 5 + length) })
    at += 5 + length
  }
  return records
}

/**
 * The version and cipher suite a ServerHello record settled on. TLS 1.3 names its version in the
 * supported_versions extension; the legacy field always says 1.2.
 */
export function serverHello(record: TlsRecord | undefined): { version: string; suite: string } {
  const none = { version: 'unknown', suite: 'unknown' }
  const b = record?.bytes
  if (!b || record.type !== 22 || b[5] !== 2) return none
  let at = 5 + 4 + 2 + 32
  at += 1 + (b[at] ?? 0)
  const suiteId = ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
  at += 2 + 1
  const end = at + 2 + (((b[at] ?? 0) << 8) | (b[at + 1] ?? 0))
  let version = 0x0303
  for (at += 2; at + 4 <= end; ) {
    const type = ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
    const length = ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)
    if (type === 0x002b) version = ((b[at + 4] ?? 0) << 8) | (b[at + 5] ?? 0)
    at += 4 + length
  }
  return {
    version: `${TLS_VERSIONS.get(version) ?? 'other'} (0x${version.toString(16).padStart(4, '0')})`,
    suite: CIPHER_SUITES.get(suiteId) ?? `0x${suiteId.toString(16)}`,
  }
}
