/**
 * The one entry point to `@peculiar/x509` for the whole project: every other module imports
 * `x509` from here, never the package itself.
 *
 * Why the indirection: the library resolves its algorithms through `tsyringe`, which throws at
 * import time unless `Reflect.getMetadata` exists (the `reflect-metadata` polyfill). We add no
 * second dependency for that; instead a minimal metadata store (only what tsyringe's
 * `@injectable()` reads: getMetadata / getOwnMetadata / defineMetadata) is installed before the
 * library loads. Bun evaluates CommonJS packages that an ES module imports statically *before*
 * that module's body runs, so the library must be loaded with a dynamic `import()` after the
 * shim; a static import would throw.
 *
 * Invariants: the shim never replaces an existing `Reflect.getMetadata` (a real polyfill loaded
 * earlier wins); the library's crypto provider is the platform WebCrypto (`globalThis.crypto`).
 */

type MetadataKey = unknown
type Store = Map<MetadataKey, unknown>

/** Installs a minimal `Reflect` metadata API when none exists (what tsyringe needs, no more). */
function installReflectMetadataShim(): void {
  const reflect = Reflect as unknown as Record<string, unknown>
  if (typeof reflect['getMetadata'] === 'function') return
  const stores = new WeakMap<object, Store>()
  const own = (target: object, key: MetadataKey): unknown => stores.get(target)?.get(key)
  reflect['defineMetadata'] = (key: MetadataKey, value: unknown, target: object): void => {
    let store = stores.get(target)
    if (!store) stores.set(target, (store = new Map()))
    store.set(key, value)
  }
  reflect['getOwnMetadata'] = own
  reflect['hasOwnMetadata'] = (key: MetadataKey, target: object): boolean =>
    stores.get(target)?.has(key) ?? false
  // Inherited lookup walks the prototype chain, as reflect-metadata does.
  reflect['getMetadata'] = (key: MetadataKey, target: object): unknown => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const store = stores.get(t)
      if (store?.has(key)) return store.get(key)
    }
    return undefined
  }
  reflect['metadata'] =
    (key: MetadataKey, value: unknown) =>
    (target: object): void => {
      stores.get(target)?.set(key, value) ?? stores.set(target, new Map([[key, value]]))
    }
}

installReflectMetadataShim()

/** The `@peculiar/x509` module, loaded after the Reflect shim and bound to WebCrypto. */
export const x509: typeof import('@peculiar/x509') = await import('@peculiar/x509')

x509.cryptoProvider.set(globalThis.crypto)
