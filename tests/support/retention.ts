// Log retention for tests that bound the log by entries alone (bytes and age at their defaults).
import { DEFAULT_LOG_RETENTION, type LogRetention } from '../../shared/protocol/limits.ts'

export function keepEntries(entries: number): LogRetention {
  return { ...DEFAULT_LOG_RETENTION, entries }
}

/** A bound given as a number is on entries alone. */
export function retained(retention: number | LogRetention): LogRetention {
  return typeof retention === 'number' ? keepEntries(retention) : retention
}
