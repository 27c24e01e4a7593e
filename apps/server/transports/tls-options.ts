// TLS settings both listeners share: certificate material and the TLS 1.3 floor.

export interface TlsFiles {
  /** PEM text of the server's private key and certificate chain. */
  readonly key: string
  readonly cert: string
}

/**
 * Bun takes the protocol floor as a number (0x0304 is TLS 1.3); a string throws and a small
 * number is silently ignored, so this constant is the only place it is spelled. Bun's type
 * declarations do not list the option, hence the widened type.
 */
export const TLS_1_3: { minVersion: number } = { minVersion: 0x0304 }
