import { describe, expect, test } from 'bun:test'
import { createMetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics.ts'

describe('createMetricsRegistry', () => {
  test('renders counters, gauges and a cumulative histogram in the text exposition format', async () => {
    const registry = createMetricsRegistry()
    const refusals = registry.counter('refusals_total', 'Refusals, by code.')
    refusals.inc({ code: 'bad_frame' })
    refusals.inc({ code: 'bad_frame' }, 2)
    refusals.inc({ code: 'name_taken' })
    registry.gauge('connections', 'Open connections.', () => [
      { labels: { transport: 'wss' }, value: 3 },
      { labels: { transport: 'tls' }, value: 0 },
    ])
    const latency = registry.histogram('latency_seconds', 'Latency.', [0.1, 1])
    for (const value of [0.05, 0.1, 0.5, 2]) latency.observe(value)
    expect(await registry.render()).toBe(
      [
        '# HELP refusals_total Refusals, by code.',
        '# TYPE refusals_total counter',
        'refusals_total{code="bad_frame"} 3',
        'refusals_total{code="name_taken"} 1',
        '# HELP connections Open connections.',
        '# TYPE connections gauge',
        'connections{transport="wss"} 3',
        'connections{transport="tls"} 0',
        '# HELP latency_seconds Latency.',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{le="0.1"} 2',
        'latency_seconds_bucket{le="1"} 3',
        'latency_seconds_bucket{le="+Inf"} 4',
        'latency_seconds_sum 2.65',
        'latency_seconds_count 4',
        '',
      ].join('\n'),
    )
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8')
  })

  test('escapes label values and leaves out a gauge that has nothing to say or cannot be read', async () => {
    const registry = createMetricsRegistry()
    registry.counter('odd_total', 'Odd labels.').inc({ value: 'a "b" \\ c\nd' })
    registry.gauge('empty', 'Nothing now.', () => [])
    registry.gauge('away', 'The store is away.', async () => {
      throw new Error('Redis is away')
    })
    expect(await registry.render()).toBe(
      [
        '# HELP odd_total Odd labels.',
        '# TYPE odd_total counter',
        'odd_total{value="a \\"b\\" \\\\ c\\nd"} 1',
        '',
      ].join('\n'),
    )
  })

  test('refuses a name that is not a metric name, or one made twice', () => {
    const registry = createMetricsRegistry()
    expect(() => registry.counter('no-dashes', 'x')).toThrow('not a metric name')
    registry.counter('once_total', 'x')
    expect(() => registry.gauge('once_total', 'x', () => [])).toThrow('made twice')
  })
})
