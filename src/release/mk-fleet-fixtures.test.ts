/**
 * mkFleet's golden outputs (nix/tests/mk-fleet/fixtures/*.resolved.json) through the release:
 * each is assembled as `nixfleet release` would (a closure for every host), every artifact
 * parses, selectors resolve here to the very waves mkFleet resolved (`and`/`not` included), the
 * manifests' budgets list the hosts mkFleet's selector semantics pick, and each manifest carries
 * its channel's compliance frameworks.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as v from 'valibot'
import { selectorMatches } from '../core/release/selector.ts'
import { RolloutManifestSchema } from '../proto/manifest.ts'
import { assembleRelease } from './assemble.ts'

const DIR = join(import.meta.dir, '..', '..', 'nix', 'tests', 'mk-fleet', 'fixtures')
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.resolved.json'))
  .sort()
const STAMP = {
  signedAt: '2026-05-01T12:00:00Z',
  ciCommit: '0123456789abcdef0123456789abcdef01234567',
  signatureAlgorithm: 'ed25519',
}

const nodes = (n: number): string[] => Array.from({ length: n }, (_, i) => `node-${i + 1}`).sort()

/** The hosts of each budget, by fixture, as mkFleet's selector semantics resolve them. */
const BUDGET_HOSTS: Readonly<Record<string, readonly (readonly string[])[]>> = {
  'merge-fleets': [['osl-1', 'osl-2'], ['lis-1']],
  // and: [ { tags = [ "db" ]; } { not.channel = "lab"; } ]
  'selector-and': [['db-ber-1', 'db-muc-1']],
  'selector-fields': [['a', 'b']],
  template: [['web-01', 'web-02']],
  'tight-budget-warns': [nodes(12), nodes(12), nodes(9), nodes(12)],
}

type Raw = {
  hosts: Record<string, { channel: string; tags: string[] }>
  channels: Record<string, { rolloutPolicy: string; compliance: { frameworks: string[] } }>
  rolloutPolicies: Record<string, { waves: { selector: unknown }[] }>
  waves: Record<string, { hosts: string[] }[]>
}

test('the fixtures include the and/not ones and some with compliance frameworks', () => {
  expect(FIXTURES).toContain('selector-and.resolved.json')
  expect(FIXTURES).toContain('selector-not.resolved.json')
  expect(FIXTURES).toContain('static-compliance-permissive.resolved.json')
  expect(FIXTURES.length).toBeGreaterThanOrEqual(12)
})

describe('mkFleet fixtures through the release', () => {
  for (const file of FIXTURES) {
    const name = file.replace(/\.resolved\.json$/, '')
    test(name, () => {
      const raw = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Raw
      const closures = Object.fromEntries(
        Object.keys(raw.hosts).map((h) => [h, `${'0'.repeat(32)}-nixos-system-${h}`])
      )
      const out = assembleRelease({ fleet: raw as never, closures, stamp: STAMP })

      // Every wave selector, parsed, picks here exactly the hosts mkFleet put in the wave.
      for (const [channel, c] of Object.entries(out.fleet.channels)) {
        const policy = out.fleet.rolloutPolicies[c.rolloutPolicy]!
        const resolved = policy.waves.map((w) =>
          Object.entries(out.fleet.hosts)
            .filter(([host, h]) => selectorMatches(w.selector, host, h))
            .map(([host]) => host)
            .sort()
        )
        expect({ channel, waves: resolved }).toEqual({
          channel,
          waves: raw.waves[channel]!.map((w) => w.hosts),
        })
      }

      // One manifest per channel with a host, each parsing, each with the budgets mkFleet's
      // semantics give.
      const manifests = out.files
        .filter((f) => f.path.startsWith('rollouts/'))
        .map((f) =>
          v.parse(RolloutManifestSchema, JSON.parse(new TextDecoder().decode(f.canonical)))
        )
      const withHosts = [...new Set(Object.values(raw.hosts).map((h) => h.channel))].sort()
      expect(manifests.map((m): string => m.channel)).toEqual(withHosts)
      for (const m of manifests) {
        expect(m.disruptionBudgets.map((b): string[] => b.hosts)).toEqual(
          (BUDGET_HOSTS[name] ?? []) as string[][]
        )
        expect(m.complianceFrameworks).toEqual(raw.channels[m.channel]!.compliance.frameworks)
      }
    })
  }
})
