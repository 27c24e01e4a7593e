// Sizes as the terminal shows and reads them, in honest units: it shows binary ones by their IEC
// names (1.0 MiB is 1,048,576 bytes), and reads both kinds, as GNU dd does (K, M, G, KiB, MiB,
// GiB are powers of 1024; KB, MB, GB powers of 1000). Pure.

const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB']

/** `512 B`, `1.5 KiB`, `1.0 MiB`: one decimal from KiB on. */
export function describeBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  let value = bytes / 1024
  let unit = 0
  // Step up where rounding would otherwise print `1024.0 KiB`.
  while (Number(value.toFixed(1)) >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${BINARY_UNITS[unit]}`
}

const MULTIPLIERS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1024,
  KIB: 1024,
  KB: 1000,
  M: 1024 ** 2,
  MIB: 1024 ** 2,
  MB: 1000 ** 2,
  G: 1024 ** 3,
  GIB: 1024 ** 3,
  GB: 1000 ** 3,
}

/** `100MiB`, `512 KB`, `1.5G`, `2048` (bytes), `0`; undefined for anything else. */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text.trim())
  const multiplier = match ? MULTIPLIERS[(match[2] as string).toUpperCase()] : undefined
  if (!match || multiplier === undefined) return undefined
  return Math.floor(Number(match[1]) * multiplier)
}
