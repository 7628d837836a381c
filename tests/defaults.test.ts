/**
 * The defaults the design and the docs state, asserted once, in the code and in the docs that
 * promise them: the manifest poll (agent) and release poll (CP) every 30 s, the dispatch long
 * poll held up to 60 s, and certificate renewal once less than half of the lifetime is left.
 */
import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_CADENCE, DEFAULT_RENEWAL_THRESHOLD_FRACTION } from '../src/agent/config.ts'
import { agentSpec } from '../src/cli/commands/agent.ts'
import { CP_DEFAULTS } from '../src/cp/config.ts'
import { MAX_WAIT_SECS } from '../src/cp/http/routes/agent.ts'

const doc = (name: string): string =>
  readFileSync(join(import.meta.dir, '..', 'docs', name), 'utf8')
const flagDefault = (flag: string): string | undefined => agentSpec.options[flag]?.default

test('poll 30 s, long-poll wait 60 s, renewal below half the lifetime: in code, on the command line, in the docs', () => {
  // The agent's manifest poll and the CP's release poll.
  expect(DEFAULT_CADENCE.manifestPollMs).toBe(30_000)
  expect(flagDefault('manifest-poll-interval-secs')).toBe('30')
  expect(doc('agent.md')).toContain('| manifest poll | 30 s, first at start |')
  expect(CP_DEFAULTS.pollIntervalSecs).toBe(30)
  expect(doc('control-plane.md')).toContain('release poll 30 s')
  // The long poll: the agent asks for 60 s, the CP holds at most (and by default) 60 s.
  expect(DEFAULT_CADENCE.dispatchWaitSecs).toBe(60)
  expect(flagDefault('dispatch-wait-secs')).toBe('60')
  expect(MAX_WAIT_SECS).toBe(60)
  expect(doc('control-plane.md')).toContain('`GET /v1/agent/dispatch?wait=N` (0–60, default 60)')
  // Renewal once less than half of the certificate's lifetime is left (0 disables).
  expect(DEFAULT_RENEWAL_THRESHOLD_FRACTION).toBe(0.5)
  expect(flagDefault('renewal-threshold-fraction')).toBe('0.5')
  expect(doc('agent.md')).toContain('| `--renewal-threshold-fraction` | `0.5` |')
})
