/**
 * The dashboard at `/ui/` on the CP's mTLS listener, for operators and viewers who load their
 * client certificate into a browser. The page itself calls the
 * ordinary `/v1` API from the same origin; `/ui` redirects to `/ui/` so its relative asset URLs
 * resolve.
 */
import { Hono } from 'hono'
import { uiFiles } from '../../../ui/assets.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { identityGate, READERS } from '../middleware/gates.ts'

/** The `/ui` routes (mounted at the root). */
export function uiRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  app.use('/ui', identityGate(deps, READERS))
  app.use('/ui/*', identityGate(deps, READERS))
  app.route('/', uiFiles<CpEnv>())
  return app
}
