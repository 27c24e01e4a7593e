// The bench's command line: its flags, the quick and full presets, the constants workloads share.
import { parseArgs } from 'node:util'

export type Kind = 'reference' | 'product'
export type WorkloadId = 'a' | 'b' | 'c' | 'd' | 'e' | 'r' | 's'

/** A step with more than this much of a core going to other programs is run again. */
export const NOISY_OTHER_PCT = 25
export const KNEE_P99_MS = 10
export const MESSAGE_BYTES = 64
/**
 * The soak runs the server at this nice value, as an operator runs a service whose latency
 * matters (`nice -n -10 bun run serve`, systemd's `Nice=`): on this VM the soak's longest stalls
 * at nice 0 were the server waiting for its core behind a kernel thread (DAMON's kdamond) and
 * other programs, 24–101 ms, with the idle process beside it late too; at -10 a 4-minute soak's
 * longest was 18.2 ms (docs/performance.md). The other workloads run both servers at the bench's
 * own priority, so their ratios compare like with like.
 */
export const SOAK_NICE = -10

export interface Config {
  readonly mode: 'quick' | 'full'
  readonly ladder: {
    readonly clients: number
    readonly start: number
    readonly factor: number
    readonly max: number
    readonly stepMs: number
    readonly drainMs: number
    /** Steps between the last pass and the first failure, to place the knee closer. */
    readonly bisections: number
    /** Run every failing step twice: one slow turn of a shared machine must not end the ladder. */
    readonly confirmFailures: boolean
  }
  /** Rounds of paired steps (product, then relay, or the other way) at each of three rates. */
  readonly pairedRounds: number
  readonly bursts: { readonly clients: number; readonly durationMs: number }
  readonly crowd: {
    readonly connections: number
    readonly processes: number
    readonly concurrency: number
    /**
     * (e)'s messages: a machine's hiccup delays all of one message's deliveries, so with 30 one
     * slow message was the p99; over 150 it takes two.
     */
    readonly messages: number
    readonly rate: number
  }
}

export const QUICK: Config = {
  mode: 'quick',
  ladder: {
    clients: 64,
    start: 1000,
    factor: 2,
    max: 100_000,
    stepMs: 1500,
    drainMs: 1000,
    bisections: 1,
    confirmFailures: true,
  },
  pairedRounds: 3,
  bursts: { clients: 32, durationMs: 2000 },
  crowd: { connections: 1000, processes: 2, concurrency: 64, messages: 50, rate: 10 },
}

const FULL: Config = {
  mode: 'full',
  ladder: {
    clients: 64,
    start: 500,
    factor: Math.SQRT2,
    max: 100_000,
    stepMs: 4000,
    drainMs: 2000,
    bisections: 2,
    confirmFailures: true,
  },
  pairedRounds: 5,
  bursts: { clients: 32, durationMs: 10_000 },
  crowd: { connections: 10_000, processes: 4, concurrency: 100, messages: 150, rate: 5 },
}

export interface Settings {
  readonly config: Config
  /** The workloads to run (`--only`). */
  readonly only: ReadonlySet<WorkloadId>
  /** `--rates`: run exactly these rates instead of searching for the knee. */
  readonly fixedRates?: readonly number[]
  /** Run the reference's ladder with messages as large as the product's delivered frames. */
  readonly sameBytes: boolean
  /** And with messages of these sizes. */
  readonly referenceBytes: readonly number[]
  readonly profile: boolean
  readonly waitQuiet: boolean
  readonly memoryStore: boolean
  /**
   * `--ladder-clients N`: the load-client processes the ladders and their paired steps split the
   * members over; the rig's default is one per client core.
   */
  readonly ladderClients?: number
  /** Extra variables for the product server's environment. */
  readonly serverEnv: Readonly<Record<string, string>>
  /**
   * (s), the soak: how long, at what rate (half of (a)'s knee when not given), and at what nice
   * value the server runs (SOAK_NICE unless given).
   */
  readonly soak: { readonly minutes: number; readonly rate?: number; readonly nice: number }
}

export function readSettings(): Settings {
  const { values: flags } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'wait-quiet': { type: 'boolean', default: false },
      /** Overrides the size of (d) and (e). */
      connections: { type: 'string' },
      /** Runs exactly these rates (messages/s, comma-separated) instead of searching for the knee. */
      rates: { type: 'string' },
      /** Overrides the length of a ladder step. */
      'step-ms': { type: 'string' },
      /** Load-client processes for the ladders (default: one per client core). */
      'ladder-clients': { type: 'string' },
      /** Overrides how many rounds the paired CPU steps of (a) and (b) take at each rate. */
      'paired-rounds': { type: 'string' },
      /** Also run the reference's ladder with messages as large as the product's frames. */
      'same-bytes': { type: 'boolean' },
      /** Also run the reference's ladder with messages of these sizes (bytes, comma-separated). */
      'reference-bytes': { type: 'string' },
      /** Diagnostic: the product's store in memory instead of a temporary directory on disk. */
      'memory-store': { type: 'boolean' },
      /** Diagnostic: NAME=VALUE in the product server's environment (JSC options, say). */
      'server-env': { type: 'string', multiple: true },
      /** Runs (s): the product at half its knee for minutes, with joins and leaves mixed in. */
      soak: { type: 'boolean', default: false },
      'soak-minutes': { type: 'string' },
      'soak-rate': { type: 'string' },
      /** The soak's server at this nice value (default -10; 0 runs it as the other workloads). */
      'soak-nice': { type: 'string' },
    },
  })
  const preset = flags.full ? FULL : QUICK
  const config: Config = {
    ...preset,
    ladder: { ...preset.ladder, stepMs: Number(flags['step-ms'] ?? preset.ladder.stepMs) },
    crowd: { ...preset.crowd, connections: Number(flags.connections ?? preset.crowd.connections) },
    pairedRounds: Number(flags['paired-rounds'] ?? preset.pairedRounds),
  }
  // (r) runs three ladders with a Redis beside them, (s) a ten-minute soak: only in the full run,
  // or asked for by name (`--soak` adds (s) to the quick run).
  const only =
    flags.only ?? (config.mode === 'full' ? 'a,b,c,d,e,r,s' : `a,b,c,d,e${flags.soak ? ',s' : ''}`)
  const pairs = (flags['server-env'] ?? []).map((pair) => pair.split('='))
  return {
    config,
    only: new Set(only.split(',') as WorkloadId[]),
    fixedRates: flags.rates?.split(',').map(Number),
    // Always: the targets compare the product with a relay moving the same bytes (issue 18).
    sameBytes: flags['same-bytes'] ?? true,
    referenceBytes: flags['reference-bytes']?.split(',').map(Number) ?? [],
    profile: flags.profile,
    waitQuiet: flags['wait-quiet'],
    memoryStore: flags['memory-store'] ?? false,
    ...(flags['ladder-clients'] ? { ladderClients: Number(flags['ladder-clients']) } : {}),
    serverEnv: Object.fromEntries(pairs.map(([name = '', ...value]) => [name, value.join('=')])),
    soak: {
      minutes: Number(flags['soak-minutes'] ?? 10),
      nice: Number(flags['soak-nice'] ?? SOAK_NICE),
      ...(flags['soak-rate'] ? { rate: Number(flags['soak-rate']) } : {}),
    },
  }
}
