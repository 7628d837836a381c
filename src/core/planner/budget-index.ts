/**
 * The disruption-budget index of one planning pass: which capped budgets of a rollout contain a
 * host, and which hosts are in flight per budget selector.
 *
 * Invariants:
 * - Budgets are identified by selector (spec §3.4): every rollout carrying a budget with an equal
 *   selector shares one in-flight set, so the within-tick accumulator spans channels.
 * - Each manifest carries its own copy of the fleet's budgets, so identical host lists are
 *   deduplicated by content first; the inverted host → budgets map is then built once per
 *   distinct list. This keeps the pass linear in hosts instead of in hosts × rollouts × budgets.
 * - In flight = Activating or Soaking, counted once per hostname.
 */
import type { DisruptionBudget } from '../types.ts'
import { budgetLimit, isInFlight } from './budgets.ts'
import { selectorKey, selectorSummary } from './selector.ts'
import type { HostRecordView } from './types.ts'

/** A capped budget as it applies to the hosts of one rollout. */
export type BudgetSlot = { readonly key: string; readonly summary: string; readonly limit: number }

/** The budget index of a pass. */
export type BudgetIndex = {
  /** The capped budgets of `rolloutId` containing `host`. */
  readonly slotsFor: (rolloutId: string, host: string) => readonly BudgetSlot[]
  /** The hosts in flight per selector key, as the pass starts (mutable: the accumulator). */
  readonly inFlight: Map<string, Set<string>>
}

type Distinct = { readonly key: string; readonly hosts: readonly string[] }

function sameHosts(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * The index over every rollout's budgets (`budgetsByRollout`) and host records
 * (`recordsByRollout`, rollout id → hostname → record).
 */
export function buildBudgetIndex(
  budgetsByRollout: ReadonlyMap<string, readonly DisruptionBudget[]>,
  recordsByRollout: Readonly<Record<string, Readonly<Record<string, HostRecordView>> | undefined>>
): BudgetIndex {
  const distinct: Distinct[] = []
  const bySelector = new Map<string, number[]>()
  // Per rollout: distinct budget id → the slot (undefined when uncapped, still counted).
  const perRollout = new Map<string, Map<number, BudgetSlot | undefined>>()

  for (const [rolloutId, budgets] of budgetsByRollout) {
    const mine = new Map<number, BudgetSlot | undefined>()
    for (const budget of budgets) {
      const key = selectorKey(budget.selector)
      const candidates = bySelector.get(key) ?? []
      let id = candidates.find((d) => sameHosts(distinct[d]!.hosts, budget.hosts))
      if (id === undefined) {
        id = distinct.length
        distinct.push({ key, hosts: budget.hosts })
        bySelector.set(key, [...candidates, id])
      }
      const limit = budgetLimit(budget)
      const prev = mine.get(id)
      const tighter = prev === undefined || (limit !== undefined && limit < prev.limit)
      if (limit !== undefined && tighter) {
        mine.set(id, { key, summary: selectorSummary(budget.selector), limit })
      } else if (!mine.has(id)) {
        mine.set(id, undefined)
      }
    }
    perRollout.set(rolloutId, mine)
  }

  const membership = new Map<string, number[]>()
  distinct.forEach((d, id) => {
    for (const host of d.hosts) {
      const ids = membership.get(host)
      if (ids === undefined) membership.set(host, [id])
      else ids.push(id)
    }
  })

  const inFlight = new Map<string, Set<string>>()
  for (const d of distinct) if (!inFlight.has(d.key)) inFlight.set(d.key, new Set())
  for (const [rolloutId, mine] of perRollout) {
    const records = recordsByRollout[rolloutId]
    if (records === undefined || mine.size === 0) continue
    for (const host of Object.keys(records)) {
      if (!isInFlight(records[host]!.phase)) continue
      for (const id of membership.get(host) ?? []) {
        if (mine.has(id)) inFlight.get(distinct[id]!.key)!.add(host)
      }
    }
  }

  const none: readonly BudgetSlot[] = []
  const slotsFor = (rolloutId: string, host: string): readonly BudgetSlot[] => {
    const ids = membership.get(host)
    const mine = perRollout.get(rolloutId)
    if (ids === undefined || mine === undefined) return none
    const out: BudgetSlot[] = []
    for (const id of ids) {
      const slot = mine.get(id)
      if (slot !== undefined) out.push(slot)
    }
    return out
  }
  return { slotsFor, inFlight }
}
