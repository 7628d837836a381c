/**
 * The OpenAPI 3.1 document of the control plane's API (served at `GET /v1/openapi.json`),
 * generated from the route table in `openapi-routes.ts`. Request schemas are converted by
 * `@valibot/to-json-schema` (JSON Schema 2020-12, the dialect OpenAPI 3.1 uses), so the document
 * cannot drift from what the routes validate.
 */
import { toJsonSchema } from '@valibot/to-json-schema'
import type * as v from 'valibot'
import { ROUTES, type RouteEntry } from './openapi-routes.ts'

export { ROUTES, type RouteEntry, type RouteRole } from './openapi-routes.ts'

/** `/v1/rollouts/:id` → `/v1/rollouts/{id}`. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z_]+)/g, '{$1}')

/** A request schema as JSON Schema 2020-12 (what OpenAPI 3.1 embeds). */
function jsonSchemaOf(schema: v.GenericSchema): Record<string, unknown> {
  // Checks and transforms JSON Schema cannot express are left out; the route still enforces them.
  const { $schema: _dialect, ...rest } = toJsonSchema(schema, {
    target: 'draft-2020-12',
    errorMode: 'ignore',
  }) as Record<string, unknown>
  return rest
}

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(
  version: string,
  routes: readonly RouteEntry[] = ROUTES
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const path = openApiPath(r.path)
    const params = [...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
      name: m[1]!,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }))
    const query = Object.entries(r.query ?? {}).map(([name, description]) => ({
      name,
      in: 'query',
      required: false,
      description,
      schema: { type: 'string' },
    }))
    const op: Record<string, unknown> = {
      summary: r.summary,
      description: `Role: ${r.role}.`,
      'x-nixfleet-role': r.role,
      responses: { default: { description: r.response } },
    }
    if (params.length + query.length > 0) op.parameters = [...params, ...query]
    if (r.body !== undefined) {
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: jsonSchemaOf(r.body) } },
      }
    }
    ;(paths[path] ??= {})[r.method.toLowerCase()] = op
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'NixFleet control plane',
      version,
      description:
        'Every route authenticates by mTLS client certificate (roles by CN), except where the role says a token or anyone. Operator JSON is camelCase; the agent wire (/v1/agent/*) is snake_case as the protocol specifies.',
    },
    paths,
  }
}
