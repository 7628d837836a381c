/**
 * Certificate common-name conventions (spec/protocol.md §6.1, DECISIONS §3.12): agents are
 * `agent-<machineId>.<suffix>` (CN = SAN dNSName), operators are `operator-<name>`, read-only
 * viewers (dashboards, Prometheus, on-call) are `viewer-<name>`.
 * Invariants: pure string functions, no I/O; `machineIdFromCn` keeps the reference's
 * pass-through for CNs that do not match (legacy bare-hostname certs), so callers that need a
 * role must ask `roleOfCn` rather than infer it from the machine id.
 */

/** The CN prefix of agent certificates. */
const AGENT_CN_PREFIX = 'agent-'
/** The CN prefix of operator certificates. */
const OPERATOR_CN_PREFIX = 'operator-'
/** The CN prefix of read-only viewer certificates. */
const VIEWER_CN_PREFIX = 'viewer-'

/** The role a certificate CN grants. */
export type CnRole = 'agent' | 'operator' | 'viewer' | 'unknown'

/** The roles an operator-side certificate can carry (`mint-operator-cert --role`). */
export type OperatorRole = 'operator' | 'viewer'

/** The agent CN (and SAN dNSName) of `host` under `suffix`: `agent-<host>.<suffix>`. */
export function agentCommonName(host: string, suffix: string): string {
  return `${AGENT_CN_PREFIX}${host}.${suffix}`
}

/** The operator CN of `name`: `operator-<name>`. */
export function operatorCommonName(name: string): string {
  return `${OPERATOR_CN_PREFIX}${name}`
}

/** The CN of `name` in `role`: `operator-<name>` or `viewer-<name>`. */
export function operatorRoleCommonName(role: OperatorRole, name: string): string {
  return `${role === 'viewer' ? VIEWER_CN_PREFIX : OPERATOR_CN_PREFIX}${name}`
}

/** The middle of `agent-<id>.<suffix>`, or `undefined` when the CN does not have that shape. */
function agentMiddle(cn: string, suffix: string): string | undefined {
  const tail = `.${suffix}`
  if (suffix === '' || !cn.startsWith(AGENT_CN_PREFIX) || !cn.endsWith(tail)) return undefined
  const middle = cn.slice(AGENT_CN_PREFIX.length, cn.length - tail.length)
  // An empty (or overlapping) middle such as `agent-.suffix` names no machine.
  return middle.length > 0 ? middle : undefined
}

/** The machine id of an agent CN; any other CN is returned unchanged, as the reference does. */
export function machineIdFromCn(cn: string, suffix: string): string {
  return agentMiddle(cn, suffix) ?? cn
}

/**
 * The role of a CN: `operator-*` is an operator, `viewer-*` a viewer, `agent-*.<suffix>` an
 * agent, anything else unknown.
 */
export function roleOfCn(cn: string, suffix: string): CnRole {
  if (cn.startsWith(OPERATOR_CN_PREFIX) && cn.length > OPERATOR_CN_PREFIX.length) return 'operator'
  if (cn.startsWith(VIEWER_CN_PREFIX) && cn.length > VIEWER_CN_PREFIX.length) return 'viewer'
  if (agentMiddle(cn, suffix) !== undefined) return 'agent'
  return 'unknown'
}
