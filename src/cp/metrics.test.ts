import { describe, expect, test } from 'bun:test'
import { Counter, CpMetrics, Histogram } from './metrics.ts'

describe('Prometheus exposition', () => {
  test('counters and gauges render with sorted, escaped labels', () => {
    const c = new Counter('x_total', 'Things.')
    c.inc({ route: '/v1/a', status: '200' })
    c.inc({ status: '200', route: '/v1/a' }, 2)
    c.inc({ route: 'we"ird' })
    expect(c.render()).toEqual([
      '# HELP x_total Things.',
      '# TYPE x_total counter',
      'x_total{route="/v1/a",status="200"} 3',
      'x_total{route="we\\"ird"} 1',
    ])
  })

  test('histograms are cumulative with +Inf, sum and count', () => {
    const h = new Histogram('lat_seconds', 'Latency.', [0.01, 0.1])
    h.observe(0.005, { route: 'r' })
    h.observe(0.05, { route: 'r' })
    h.observe(5, { route: 'r' })
    expect(h.render().slice(2)).toEqual([
      'lat_seconds_bucket{route="r",le="0.01"} 1',
      'lat_seconds_bucket{route="r",le="0.1"} 2',
      'lat_seconds_bucket{route="r",le="+Inf"} 3',
      'lat_seconds_sum{route="r"} 5.055',
      'lat_seconds_count{route="r"} 3',
    ])
  })

  test('the CP registry renders registered gauges first', () => {
    const m = new CpMetrics()
    m.gauge('g', 'A gauge.', () => [[{ state: 'Pending' }, 2]])
    expect(m.render().startsWith('# HELP g A gauge.\n# TYPE g gauge\ng{state="Pending"} 2\n')).toBe(
      true
    )
  })
})
