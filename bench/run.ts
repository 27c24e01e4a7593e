// `bun run bench`: measures the product against the bare reference in the same run, each in its
// own pinned process, and prints Markdown tables (JSON under bench/results/). Quick by default,
// about three minutes; `--full` runs every workload at full size. See issue 7 for what and why.
// This file only drives: the rig (rig.ts, measure.ts) and one module per workload (workloads/).
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { mb, table } from './report.ts'
import { createRig, log, resultsDir, type Section, type Workload } from './rig.ts'
import { MESSAGE_BYTES, readSettings } from './settings.ts'
import { bursts } from './workloads/bursts.ts'
import { crowd } from './workloads/crowd.ts'
import type { OpenLoop } from './workloads/open-loop.ts'
import { openLoop } from './workloads/open-loop.ts'
import { sharedRoom } from './workloads/shared-room.ts'
import { soakWorkload } from './workloads/soak.ts'

const settings = readSettings()
const source = sourceState()
const rig = await createRig(settings)
const { config, placement, startedAt, ciphertextBytes } = rig
/** By workload letter, in the order they ran: the JSON's `results`. */
const results: Record<string, unknown> = {}
const sections: Section[] = []

async function run<R extends object>(workload: Workload<R>): Promise<void> {
  if (!workload.ids.some((id) => settings.only.has(id))) return
  const value = await workload.run(rig)
  Object.assign(results, value)
  sections.push(workload.report(rig, value))
}

try {
  await run(openLoop)
  await run(bursts)
  await run(crowd)
  await run(sharedRoom)
  // Last: ten minutes at half the knee (a) found, when it ran.
  await run(soakWorkload(() => (results as OpenLoop).a?.product.knee))
} finally {
  rig.close()
}

const loadAtEnd = loadavg()
const markdown = render()
console.log(markdown)
mkdirSync(resultsDir, { recursive: true })
const stamp = new Date(startedAt).toISOString().replace(/[:.]/g, '-')
const jsonPath = join(resultsDir, `bench-${config.mode}-${stamp}.json`)
const json = {
  mode: config.mode,
  startedAt: new Date(startedAt).toISOString(),
  durationSeconds: (Date.now() - startedAt) / 1000,
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryBytes: totalmem(),
    kernel: release(),
    bun: Bun.version,
  },
  placement: placement.note,
  source,
  load: { start: rig.loadAtStart, end: loadAtEnd, perWorkload: rig.loadPerWorkload },
  ciphertextBytes,
  config,
  results,
  markdown,
}
writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`)
writeFileSync(jsonPath.replace(/\.json$/, '.md'), `${markdown}\n`)
log(
  `done in ${Math.round((Date.now() - startedAt) / 1000)} s; JSON and Markdown in ${jsonPath.replace(/\.json$/, '.*')}`,
)
process.exit(0)

function render(): string {
  const loads = (values: number[]) => values.map((value) => value.toFixed(2)).join(' ')
  const changes = source.uncommitted.map((line) => line.slice(3)).join(', ')
  const out = [
    `## chatbox bench (${config.mode})`,
    '',
    `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${mb(totalmem())} MB, Linux ${release()}, ` +
      `Bun ${Bun.version}; ${placement.note}. Load average at start ${loads(rig.loadAtStart)}, at end ` +
      `${loads(loadAtEnd)}. A 64-byte text encrypts to ${ciphertextBytes} bytes of MLS ciphertext; ` +
      `the reference relays ${MESSAGE_BYTES}-byte messages. CPU is % of one core over the step; ` +
      '"other" is what the rest of the machine used meanwhile. A stall is the longest the ' +
      "process's event loop was late (a 5 ms timer); a server stall is often followed by a " +
      'client one, as the burst it held back arrives at once. Source: commit ' +
      `${source.commit.slice(0, 10)}${changes ? ` plus uncommitted changes (${changes})` : ''}.`,
  ]
  const targets: Array<readonly string[]> = []
  for (const section of sections) {
    out.push(...section.markdown)
    targets.push(...section.targets)
  }
  if (targets.length > 0) {
    const headers = ['figure', 'reference', 'product', 'product / reference', 'target', 'met']
    const soakSkipped = settings.only.has('s')
      ? []
      : [
          [
            'longest event-loop stall in the soak',
            '–',
            '–',
            '–',
            '≤ 20 ms',
            'skipped: --soak or --full',
          ],
        ]
    out.push('', '### Targets', '', table(headers, [...targets, ...soakSkipped]))
  }
  return out.join('\n')
}

/** Which code was measured: the commit, and files under apps/ or shared/ that differ from it. */
function sourceState(): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]) =>
    Bun.spawnSync(['git', ...args], {
      cwd: new URL('..', import.meta.url).pathname,
    }).stdout.toString()
  return {
    commit: git('rev-parse', 'HEAD').trim(),
    uncommitted: git('status', '--porcelain', '--', 'apps', 'shared').split('\n').filter(Boolean),
  }
}
