/**
 * Input-free, one-line summaries of valibot issues for CLI errors and logs (STYLE §7.15).
 *
 * Invariant: the summary never contains the input. valibot's default messages end in
 * "but received <input>", so for those the text is rebuilt from the issue's `expected` only;
 * messages written in our schemas never embed the input and are used as they are.
 */
import type * as v from 'valibot'

/** The number of issues a summary names before it only counts the rest. */
const MAX_ISSUES = 3

type Issue = v.BaseIssue<unknown>

const isDefaultMessage = (issue: Issue): boolean =>
  issue.message.startsWith('Invalid ') && issue.message.endsWith(`eceived ${issue.received}`)

function messageOf(issue: Issue): string {
  if (!isDefaultMessage(issue)) return issue.message
  // A missing object key is reported as a schema issue whose received value is undefined.
  if (issue.kind === 'schema' && issue.received === 'undefined') return 'required'
  return issue.expected
    ? `expected ${issue.expected}`
    : `invalid ${issue.type.replaceAll('_', ' ')}`
}

/** The dot path of an issue (`hosts.web-01.channel`), or '' for the root. */
export function issuePath(issue: Issue): string {
  return (issue.path ?? [])
    .map((item) => (typeof item.key === 'string' || typeof item.key === 'number' ? item.key : '?'))
    .join('.')
}

/** The one-line summary of parse issues: `path: message` for the first three, then a count. */
export function summarizeIssues(issues: readonly Issue[]): string {
  const parts = issues.slice(0, MAX_ISSUES).map((issue) => {
    const path = issuePath(issue)
    return path ? `${path}: ${messageOf(issue)}` : messageOf(issue)
  })
  const rest = issues.length - MAX_ISSUES
  return rest > 0 ? `${parts.join('; ')} (+${rest} more)` : parts.join('; ')
}
