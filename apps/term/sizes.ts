// Sizes as the terminal reads them from its options, as GNU dd does (K, M, G, KiB, MiB, GiB are
// powers of 1024; KB, MB, GB powers of 1000). Both clients show sizes with describeSize
// (shared/client/files.ts), in binary units by their IEC names. Pure.

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
