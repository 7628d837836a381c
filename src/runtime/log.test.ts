import { expect, test } from 'bun:test'
import { createLogger, parseLogLine, redactConfig } from './log.ts'

test('every line starts with the syslog priority of its level, then one JSON object', () => {
  const lines: string[] = []
  const log = createLogger({
    component: 'c',
    level: 'debug',
    now: () => 0,
    sink: (l) => void lines.push(l),
  })
  log.debug('d')
  log.info('i', { a: 1 })
  log.warn('w')
  log.error('e', { error: new Error('boom') })
  expect(lines.map((l) => l.slice(0, 3))).toEqual(['<7>', '<6>', '<4>', '<3>'])
  for (const l of lines) expect(l.endsWith('}\n')).toBe(true)
  expect(parseLogLine(lines[1]!)).toEqual({
    priority: 6,
    record: { ts: '1970-01-01T00:00:00.000Z', level: 'info', component: 'c', msg: 'i', a: 1 },
  })
  expect(parseLogLine(lines[3]!)?.record['error']).toBe('boom')
  expect(parseLogLine('{"msg":"no prefix"}')).toBeUndefined()
  expect(parseLogLine('<6>not json')).toBeUndefined()
})

test('the start line redacts secrets, PEM blocks and URL credentials, and keeps file names', () => {
  expect(
    redactConfig({
      tls: { certPem: '-----BEGIN CERTIFICATE-----\nx', keyPem: 'secret' },
      webhookTokenFile: '/run/token',
      token: 'abc',
      fleet: { artifact: 'https://u:p@forge.example/f.json', tokenFile: undefined },
      list: ['https://forge.example/a'],
      fn: () => 1,
      n: 3,
    })
  ).toEqual({
    tls: { certPem: '[pem]', keyPem: '[redacted]' },
    webhookTokenFile: '/run/token',
    token: '[redacted]',
    fleet: { artifact: 'https://[redacted]@forge.example/f.json', tokenFile: undefined },
    list: ['https://forge.example/a'],
    n: 3,
  })
})
