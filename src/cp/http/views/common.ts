/**
 * What every read model shares: the result of a view that can find nothing to show, and the
 * renderings of times and artifact errors the JSON uses everywhere.
 */
import { toRfc3339 } from '../../../proto/common.ts'
import type { ArtifactStatus } from '../../state.ts'

/** A view's JSON, or the error status (and sentence) the route answers instead. */
export type ViewResult<T> =
  | { readonly ok: true; readonly body: T }
  | { readonly ok: false; readonly status: 404 | 503; readonly error: string }

/** A view's JSON. */
export const found = <T>(body: T): ViewResult<T> => ({ ok: true, body })

/** No JSON to show: the route answers `status` with `error`. */
export const missing = (status: 404 | 503, error: string): ViewResult<never> => ({
  ok: false,
  status,
  error,
})

/** An optional time as RFC 3339, or null. */
export const iso = (ms: number | null): string | null => (ms === null ? null : toRfc3339(ms))

/** An artifact's last verification error, as the JSON shows it. */
export function lastErrorView(
  e: ArtifactStatus['lastError']
): { kind: string; message: string; at: string } | null {
  return e == null ? null : { kind: e.kind, message: e.message, at: toRfc3339(e.at) }
}
