/**
 * The dashboard at `/ui/` on the CP's mTLS listener, for operators who load their client
 * certificate into a browser (the viewer role joins when it exists). The page itself calls the
 * ordinary `/v1` API from the same origin; `/ui` redirects to `/ui/` so its relative asset URLs
 * resolve.
 */
import { Hono } from 'hono'
import { uiFiles, UI_CSP } from '../../../ui/assets.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { identityGate } from '../middleware/gates.ts'

/** The `/ui` routes (mounted at the root). */
export function uiRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  app.use('/ui/*', identityGate(deps, ['operator']))
  app.get('/ui', identityGate(deps, ['operator']), (c) => {
    c.header('content-security-policy', UI_CSP)
    return c.redirect('/ui/', 301)
  })
  app.route('/ui', uiFiles())
  return app
}
