// The layers DESIGN.md draws, checked on every import of every source file: the room knows no
// runtime, storage or sockets; shared/ knows no app; the views know no server; nothing imports
// scripts/. Type-only imports count as much as runtime ones: a type from the store still ties the
// room to the store.
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { posix } from 'node:path'
import * as v from 'valibot'

const ROOT = posix.join(import.meta.dir, '..')

interface Import {
  /** As written in the file. */
  readonly specifier: string
  /** Repository-relative path for a relative specifier; the specifier itself for a package. */
  readonly target: string
  /** Only `import type`, `export type`, inline `type` specifiers or `import('…')` in a type. */
  readonly typeOnly: boolean
}

interface KnownBreak {
  readonly file: string
  readonly target: string
  readonly why: string
}

interface Rule {
  readonly name: string
  /** Whether the rule covers this repository-relative file. */
  covers(file: string): boolean
  forbids(target: string, file: string): boolean
}

const isTest = (file: string) => /\.test\.tsx?$/.test(file)
const isUnder = (target: string, dir: string) => target === dir || target.startsWith(`${dir}/`)
const isBun = (target: string) => target === 'bun' || target.startsWith('bun:')
// Bun lists its own modules among the built-ins; those are `isBun`.
const NODE_BUILTINS = new Set(builtinModules.filter((name) => !isBun(name)))
const isNode = (target: string) => target.startsWith('node:') || NODE_BUILTINS.has(target)

const RULES: readonly Rule[] = [
  {
    name: 'apps/server/room/ imports no Bun, node:, Hono, store, cluster or transports',
    covers: (file) => isUnder(file, 'apps/server/room'),
    forbids: (target, file) =>
      // Tests need their runner; nothing else of Bun.
      (isBun(target) && !(isTest(file) && target === 'bun:test')) ||
      isNode(target) ||
      isUnder(target, 'hono') ||
      ['apps/server/store', 'apps/server/cluster', 'apps/server/transports'].some((dir) =>
        isUnder(target, dir),
      ),
  },
  {
    name: 'shared/ imports nothing from apps/',
    covers: (file) => isUnder(file, 'shared'),
    forbids: (target) => isUnder(target, 'apps'),
  },
  {
    name: 'the views (apps/web, apps/term) import nothing from apps/server',
    covers: (file) => isUnder(file, 'apps/web') || isUnder(file, 'apps/term'),
    forbids: (target) => isUnder(target, 'apps/server'),
  },
  {
    name: 'nothing imports scripts/ (command-line entry points only)',
    covers: () => true,
    forbids: (target) => isUnder(target, 'scripts'),
  },
]

/**
 * Imports that break a rule today, each with why and what removes it. Listed, not hidden: the
 * suite fails when one of them is gone, so the list only shrinks.
 */
const KNOWN_BREAKS: readonly KnownBreak[] = []

const transpiler = new Bun.Transpiler({ loader: 'tsx' })

/**
 * The same source with the `type` modifiers of import and export declarations dropped, so that
 * the transpiler, which leaves type-only imports out of `scanImports`, reports them too. Under
 * `verbatimModuleSyntax` every type-only import carries such a modifier.
 */
function withTypeImportsAsValues(source: string): string {
  return source
    .replace(/\bimport\s+type\s+(?=[\w$*{])/g, 'import ')
    .replace(/\bexport\s+type\s+(?=[*{])/g, 'export ')
    .replace(
      /(\bimport\s+(?:[\w$]+\s*,\s*)?\{|\bexport\s*\{)([^}]*)\}/g,
      (_match, opening: string, names: string) =>
        `${opening}${names.replace(/\btype\s+(?!as\b)(?=[\w$])/g, '')}}`,
    )
}

/** `import('x')` used as a type (`import('x').T`, `typeof import('x')`), which scanImports skips. */
function typeQueries(source: string): string[] {
  const pattern = /(?:\btypeof\s+)?\bimport\(\s*(['"])([^'"\n]+)\1\s*\)(\s*\.)?/g
  return [...source.matchAll(pattern)]
    .filter((match) => match[0].startsWith('typeof') || match[3] !== undefined)
    .map((match) => match[2] as string)
}

function scan(file: string, source: string): string[] {
  try {
    return transpiler.scanImports(source).map((found) => found.path)
  } catch (error) {
    throw new Error(`${file}: cannot read its imports: ${(error as Error).message}`)
  }
}

function importsOf(file: string, source: string): Import[] {
  const runtime = new Set(scan(file, source))
  const all = new Set([...scan(file, withTypeImportsAsValues(source)), ...typeQueries(source)])
  return [...all].map((specifier) => ({
    specifier,
    target: specifier.startsWith('.')
      ? posix.normalize(posix.join(posix.dirname(file), specifier))
      : specifier,
    typeOnly: !runtime.has(specifier),
  }))
}

/** Every import that breaks a rule, as `file imports target (type-only)`, per rule. */
function offences(sources: ReadonlyMap<string, string>): Map<string, string[]> {
  const found = new Map<string, string[]>(RULES.map((rule) => [rule.name, []]))
  for (const [file, source] of sources) {
    for (const rule of RULES.filter((candidate) => candidate.covers(file))) {
      for (const { specifier, target, typeOnly } of importsOf(file, source)) {
        if (!rule.forbids(target, file)) continue
        const shown = specifier === target ? `'${specifier}'` : `${target} ('${specifier}')`
        found.get(rule.name)?.push(`${file} imports ${shown}${typeOnly ? ', type-only' : ''}`)
      }
    }
  }
  return found
}

/** The files tsconfig.json type-checks: every source file of the project, tracked or not. */
function projectSources(): Map<string, string> {
  const tsconfig = v.parse(
    v.object({ include: v.array(v.string()) }),
    JSON.parse(readFileSync(posix.join(ROOT, 'tsconfig.json'), 'utf8')),
  )
  const sources = new Map<string, string>()
  const glob = new Bun.Glob(`{${tsconfig.include.join(',')}}/**/*.{ts,tsx,mts,cts,js,jsx,mjs}`)
  for (const file of glob.scanSync({ cwd: ROOT })) {
    if (file.split('/').includes('node_modules')) continue
    sources.set(file, readFileSync(posix.join(ROOT, file), 'utf8'))
  }
  return sources
}

const sources = projectSources()
const found = offences(sources)
const isBreak = (known: KnownBreak, offence: string) =>
  offence.startsWith(`${known.file} imports ${known.target}`)
const isKnown = (offence: string) => KNOWN_BREAKS.some((known) => isBreak(known, offence))

describe('the layers', () => {
  test('the check reads the whole project', () => {
    expect(sources.size).toBeGreaterThan(150)
    expect(importsOf('scripts/demo.ts', sources.get('scripts/demo.ts') ?? '')).toContainEqual({
      specifier: '../apps/server/certs.ts',
      target: 'apps/server/certs.ts',
      typeOnly: false,
    })
  })

  for (const rule of RULES) {
    test(rule.name, () => {
      expect((found.get(rule.name) ?? []).filter((offence) => !isKnown(offence))).toEqual([])
    })
  }

  test('every listed break still occurs (remove it from KNOWN_BREAKS once fixed)', () => {
    const all = [...found.values()].flat()
    const gone = KNOWN_BREAKS.filter((known) => !all.some((offence) => isBreak(known, offence)))
    expect(gone).toEqual([])
  })
})

describe('the import scanner', () => {
  test('sees type-only imports and tells them from runtime ones', () => {
    const source = [
      "import type { A } from './a.ts'",
      "import { type B, type C } from './b.ts'",
      "import D, { type E } from './d.ts'",
      "import { F } from './f.ts'",
      "export type { G } from './g.ts'",
      "export * from './h.ts'",
      "type I = import('./i.ts').I",
      'export type J = { j: 1 }',
      'console.log(D, F)',
    ].join('\n')
    expect(importsOf('shared/x/y.ts', source)).toEqual([
      { specifier: './a.ts', target: 'shared/x/a.ts', typeOnly: true },
      { specifier: './b.ts', target: 'shared/x/b.ts', typeOnly: true },
      { specifier: './d.ts', target: 'shared/x/d.ts', typeOnly: false },
      { specifier: './f.ts', target: 'shared/x/f.ts', typeOnly: false },
      { specifier: './g.ts', target: 'shared/x/g.ts', typeOnly: true },
      { specifier: './h.ts', target: 'shared/x/h.ts', typeOnly: false },
      { specifier: './i.ts', target: 'shared/x/i.ts', typeOnly: true },
    ])
  })

  test('each rule names the file and the import that breaks it', () => {
    const broken = new Map([
      ['apps/server/room/room.ts', "import { Database } from 'bun:sqlite'"],
      ['apps/server/room/ports.ts', "import type { Socket } from 'node:net'"],
      ['apps/server/room/a.ts', "import type { S } from '../store/sqlite-store.ts'"],
      ['apps/server/room/b.ts', "import { t } from '../transports/wss.ts'\nt()"],
      ['apps/server/room/c.ts', "import { Hono } from 'hono'\nHono"],
      ['apps/server/room/room.test.ts', "import { test } from 'bun:test'\ntest"],
      ['shared/client/x.ts', "import { c } from '../../apps/web/lib/chat.ts'\nc"],
      ['apps/term/x.ts', "import type { R } from '../server/room/ports.ts'"],
      ['tests/x.test.ts', "import '../scripts/gen-certs.ts'"],
    ])
    expect([...offences(broken).values()]).toEqual([
      [
        "apps/server/room/room.ts imports 'bun:sqlite'",
        "apps/server/room/ports.ts imports 'node:net', type-only",
        "apps/server/room/a.ts imports apps/server/store/sqlite-store.ts ('../store/sqlite-store.ts'), type-only",
        "apps/server/room/b.ts imports apps/server/transports/wss.ts ('../transports/wss.ts')",
        "apps/server/room/c.ts imports 'hono'",
      ],
      ["shared/client/x.ts imports apps/web/lib/chat.ts ('../../apps/web/lib/chat.ts')"],
      ["apps/term/x.ts imports apps/server/room/ports.ts ('../server/room/ports.ts'), type-only"],
      ["tests/x.test.ts imports scripts/gen-certs.ts ('../scripts/gen-certs.ts')"],
    ])
  })
})
