/**
 * A tiny element builder for the dashboard: `h('a', { href }, ...children)`. Text children are
 * text nodes (never parsed as HTML), so nothing the API returns can inject markup.
 */

/** An attribute value; false and null omit the attribute. */
type Attr = string | number | boolean | null | undefined | ((e: Event) => void)

/** A child: a node, text, or nothing. */
export type Child = Node | string | number | null | undefined | false | readonly Child[]

/** Builds an element. Attributes starting with `on` are event listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Readonly<Record<string, Attr>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.slice(2), v)
    else if (v === true) el.setAttribute(k, '')
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v))
  }
  append(el, children)
  return el
}

function append(el: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)))
  }
}

/**
 * Replaces the children of `target`, keeping keyboard focus, the caret and the text being typed
 * on the element with the same key.
 */
export function replace(target: HTMLElement, ...children: Child[]): void {
  const active = document.activeElement
  const key = active instanceof HTMLElement ? active.dataset['key'] : undefined
  const sel =
    active instanceof HTMLInputElement ? [active.selectionStart, active.selectionEnd] : undefined
  const frag = document.createDocumentFragment()
  append(frag, children)
  target.replaceChildren(frag)
  if (key === undefined) return
  const again = target.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)
  if (again === null) return
  // What the operator is typing survives a live re-render: the new field takes the old text
  // (its own value is the last committed one), then the focus and the caret.
  if (again instanceof HTMLInputElement && active instanceof HTMLInputElement)
    again.value = active.value
  again.focus()
  if (again instanceof HTMLInputElement && sel !== undefined) {
    again.setSelectionRange(sel[0] ?? null, sel[1] ?? null)
  }
}
