// Reads a server CPU profile (`bun run bench --profile` writes them) and ranks functions by self
// and total time within a wall-clock window, so a step's profile is not diluted by start-up (the
// page build) or by the members joining. Each step's window is in the results JSON (cpu).
// Run: bun bench/profile-summary.ts FILE.cpuprofile [--from EPOCH_MS] [--to EPOCH_MS] [--top N]
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import * as v from 'valibot'

const ProfileSchema = v.object({
  nodes: v.array(
    v.object({
      id: v.number(),
      callFrame: v.object({ functionName: v.string(), url: v.string(), lineNumber: v.number() }),
      children: v.optional(v.array(v.number())),
    }),
  ),
  /** Epoch microseconds in Bun's profiles. */
  startTime: v.number(),
  samples: v.array(v.number()),
  timeDeltas: v.array(v.number()),
})

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string' } },
})
const file = positionals[0]
if (!file) {
  console.error(
    'usage: bun bench/profile-summary.ts FILE.cpuprofile [--from MS] [--to MS] [--top N]',
  )
  process.exit(2)
}
const profile = v.parse(ProfileSchema, JSON.parse(readFileSync(file, 'utf8')))
const from = Number(values.from ?? 0) * 1000
const to = Number(values.to ?? Number.POSITIVE_INFINITY) * 1000
const top = Number(values.top ?? 25)

const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const parent = new Map<number, number>()
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id)

function nameOf(id: number): string {
  const frame = byId.get(id)?.callFrame
  if (!frame) return '?'
  const where = frame.url
    ? `${frame.url.replace(/^.*\/(main|node_modules)\//, '')}:${frame.lineNumber + 1}`
    : ''
  return `${frame.functionName || '(anonymous)'} ${where}`.trim()
}

const self = new Map<string, number>()
const total = new Map<string, number>()
let counted = 0
let at = profile.startTime
profile.samples.forEach((id, index) => {
  at += profile.timeDeltas[index] ?? 0
  if (at < from || at > to) return
  counted += 1
  const leaf = nameOf(id)
  self.set(leaf, (self.get(leaf) ?? 0) + 1)
  // A function counts once per sample however deep it recurses.
  const seen = new Set<string>()
  for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
    const name = nameOf(node)
    if (seen.has(name)) continue
    seen.add(name)
    total.set(name, (total.get(name) ?? 0) + 1)
  }
})

const pct = (count: number) => `${((count / Math.max(1, counted)) * 100).toFixed(1)} %`
console.log(`${counted} samples in the window`)
console.log('\nself time')
for (const [name, count] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${pct(count).padStart(8)}  ${name}`)
}
console.log('\ntotal time (the function and what it called)')
for (const [name, count] of [...total].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${pct(count).padStart(8)}  ${name}`)
}
