/**
 * The wire contracts of NixFleet's signed artifacts: valibot schemas, their inferred types,
 * branded ids and the few pure helpers that belong with them. No I/O, no clock.
 */
export * from './bootstrap.ts'
export * from './common.ts'
export * from './fleet.ts'
export * from './ids.ts'
export * from './issues.ts'
export * from './manifest.ts'
export * from './revocations.ts'
export * from './trust.ts'
export * from './agent.ts'
