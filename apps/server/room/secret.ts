// Room-secret comparison that takes the same time wherever the first difference is.

const encoder = new TextEncoder()

export function secretsEqual(given: string, expected: string): boolean {
  const a = encoder.encode(given)
  const b = encoder.encode(expected)
  // Walk the expected secret's whole length whatever was given, so timing reveals no prefix.
  let difference = a.length ^ b.length
  for (let index = 0; index < b.length; index += 1) {
    difference |= (a[index] ?? 0) ^ (b[index] as number)
  }
  return difference === 0
}
