// Builds nodes with DOM calls only (no innerHTML: nothing from the agent is parsed as markup)
// and brings the page to a newly built tree in place: the elements a person is on (the focused
// button, an opened <details>) stay the same nodes, and only changed text and attributes are
// written. Rebuilding the page would throw a keyboard or screen-reader user back to the top on
// every state change.

type Child = Node | string;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

/** Attributes the person sets by using the page (a <details> they opened), never reset by an update. */
const PERSON_OWNED = new Set(['open']);

const keyOf = (node: Node): string | null => (node instanceof Element ? node.getAttribute('data-key') : null);

function sameKind(current: Node, next: Node): boolean {
  if (current.nodeType !== next.nodeType) return false;
  if (current instanceof Element && next instanceof Element) return current.tagName === next.tagName && keyOf(current) === keyOf(next);
  return current.nodeType === Node.TEXT_NODE;
}

function patchAttributes(current: Element, next: Element): void {
  for (const { name } of Array.from(current.attributes)) {
    if (!next.hasAttribute(name) && !PERSON_OWNED.has(name)) current.removeAttribute(name);
  }
  for (const { name, value } of Array.from(next.attributes)) {
    if (current.getAttribute(name) !== value) current.setAttribute(name, value);
  }
}

function patchNode(current: Node, next: Node): void {
  if (current instanceof Element && next instanceof Element) {
    patchAttributes(current, next);
    // The live region is written only when something is to be announced, never by an update.
    if (!current.hasAttribute('data-keep-content')) patchChildren(current, Array.from(next.childNodes));
  } else if (current.nodeValue !== next.nodeValue) {
    current.nodeValue = next.nodeValue;
  }
}

/**
 * Makes `parent`'s children match `next`: a child with the same tag and `data-key` (or, without
 * a key, at the same place) is kept and patched; others are inserted or removed.
 */
export function patchChildren(parent: Node, next: readonly Node[]): void {
  const current = Array.from(parent.childNodes);
  const keyed = new Map<string, Node>();
  for (const node of current) {
    const key = keyOf(node);
    if (key !== null) keyed.set(key, node);
  }
  const kept = new Set<Node>();
  next.forEach((wanted, index) => {
    const key = keyOf(wanted);
    const candidate = key !== null ? keyed.get(key) : current[index];
    let placed: Node;
    if (candidate !== undefined && !kept.has(candidate) && sameKind(candidate, wanted)) {
      patchNode(candidate, wanted);
      placed = candidate;
    } else {
      placed = wanted;
    }
    kept.add(placed);
    // Only a node out of place moves: moving the focused node would blur it.
    const here = parent.childNodes[index] ?? null;
    if (here !== placed) parent.insertBefore(placed, here);
  });
  for (const node of current) {
    if (!kept.has(node)) node.parentNode?.removeChild(node);
  }
}
