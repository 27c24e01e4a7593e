// A small metrics registry and its Prometheus text exposition (version 0.0.4): counters and
// histograms that parts of the server add to, and gauges read when a scrape asks. Knows no server.

export type Labels = Readonly<Record<string, string>>

/** One value of a gauge, read at scrape time. */
export interface Sample {
  readonly labels?: Labels
  readonly value: number
}

export interface Counter {
  inc(labels?: Labels, by?: number): void
}

export interface Histogram {
  observe(value: number): void
}

export interface MetricsRegistry {
  counter(name: string, help: string): Counter
  /** `read` is called at each scrape; a gauge with no samples, or whose read fails, is left out. */
  gauge(name: string, help: string, read: () => Sample[] | Promise<Sample[]>): void
  /** A counter whose caller keeps the totals (a hot path adds to plain numbers): read at scrape. */
  counterFrom(name: string, help: string, read: () => Sample[]): void
  /** `buckets`: the upper bounds, ascending; `+Inf` is added. */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram
  /** The whole exposition, every metric in the order it was made. */
  render(): Promise<string>
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

type Family = () => Promise<string[]>

export function createMetricsRegistry(): MetricsRegistry {
  const families: Family[] = []
  const names = new Set<string>()

  function claim(name: string): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`not a metric name: ${name}`)
    if (names.has(name)) throw new Error(`metric ${name} is made twice`)
    names.add(name)
  }

  return {
    counter(name, help) {
      claim(name)
      /** By the label set, written as Prometheus writes it. */
      const values = new Map<string, number>()
      families.push(async () => [
        ...header(name, help, 'counter'),
        ...[...values].map(([labels, value]) => `${name}${labels} ${formatValue(value)}`),
      ])
      return {
        inc(labels = {}, by = 1) {
          const key = formatLabels(labels)
          values.set(key, (values.get(key) ?? 0) + by)
        },
      }
    },
    gauge(name, help, read) {
      claim(name)
      families.push(async () => sampled(name, help, 'gauge', await read()))
    },
    counterFrom(name, help, read) {
      claim(name)
      families.push(async () => sampled(name, help, 'counter', read()))
    },
    histogram(name, help, buckets) {
      claim(name)
      const counts = buckets.map(() => 0)
      let count = 0
      let sum = 0
      families.push(async () => [
        ...header(name, help, 'histogram'),
        // Buckets are cumulative: each counts every observation up to its bound.
        ...buckets.map(
          (bound, index) =>
            `${name}_bucket${formatLabels({ le: formatValue(bound) })} ${counts[index]}`,
        ),
        `${name}_bucket{le="+Inf"} ${count}`,
        `${name}_sum ${formatValue(sum)}`,
        `${name}_count ${count}`,
      ])
      return {
        observe(value) {
          count += 1
          sum += value
          buckets.forEach((bound, index) => {
            if (value <= bound) counts[index] = (counts[index] ?? 0) + 1
          })
        },
      }
    },
    async render() {
      // A gauge that cannot be read now (the store is away) is left out, not the whole scrape.
      const read = families.map((family) => family().catch((): string[] => []))
      const lines = (await Promise.all(read)).flat()
      return `${lines.join('\n')}\n`
    },
  }
}

function sampled(name: string, help: string, type: string, samples: Sample[]): string[] {
  if (samples.length === 0) return []
  return [
    ...header(name, help, type),
    ...samples.map(
      (sample) => `${name}${formatLabels(sample.labels ?? {})} ${formatValue(sample.value)}`,
    ),
  ]
}

function header(name: string, help: string, type: string): string[] {
  return [
    `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
    `# TYPE ${name} ${type}`,
  ]
}

function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(
    ([key, value]) =>
      `${key}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  )
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}
