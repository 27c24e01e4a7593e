// Where the IETF MLS test vectors are read from, and how one file's suite-1 entries are parsed:
// shared by the interop (passive-client) tests and the building-block vector tests.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as v from 'valibot'

/**
 * The vectors are public data from the IETF's mls-implementations repository. They are not in
 * the npm package, so they are read from the team's shared folder (or CHATBOX_MLS_VECTORS).
 */
export const VECTOR_DIR =
  process.env.CHATBOX_MLS_VECTORS ??
  join(import.meta.dir, '..', '..', '..', 'shared', 'mls-test-vectors')

/** The suite the product uses (X25519, AES-128-GCM, SHA-256, Ed25519). */
export const SUITE_ID = 1

export const Hex = v.pipe(v.string(), v.regex(/^([0-9a-f]{2})*$/))

export const hex = (text: string) => Uint8Array.fromHex(text)

/**
 * Whether every named file is there. Missing files skip the tests with a note, except in CI
 * (CHATBOX_REQUIRE_MLS_VECTORS=1), where that is a failure: a skipped vector proves nothing.
 */
export function vectorsPresent(files: readonly string[]): boolean {
  const present = files.every((file) => existsSync(join(VECTOR_DIR, `${file}.json`)))
  if (!present) {
    const message = `MLS test vectors ${files.join(', ')} not found in ${VECTOR_DIR}: tests skipped`
    if (process.env.CHATBOX_REQUIRE_MLS_VECTORS === '1') throw new Error(message)
    console.warn(`\n*** ${message} ***\n`)
  }
  return present
}

/** The file's entries for suite 1, each checked against its schema. */
export function suiteVectors<TSchema extends v.GenericSchema>(
  file: string,
  schema: TSchema,
): v.InferOutput<TSchema>[] {
  const all = v.parse(
    v.array(v.looseObject({ cipher_suite: v.number() })),
    JSON.parse(readFileSync(join(VECTOR_DIR, `${file}.json`), 'utf8')),
  )
  return all.filter((item) => item.cipher_suite === SUITE_ID).map((item) => v.parse(schema, item))
}
