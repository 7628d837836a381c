/**
 * "Did you mean …?" for a misspelt name: the closest of the known names by edit distance
 * (case-insensitive, a transposition counts as one edit), or one the word is a prefix of.
 * Invariant: a suggestion is never far from the word — at most 2 edits, and fewer for short
 * words — so an unrelated name is never proposed.
 */

/** The optimal-string-alignment distance of `a` and `b` (Levenshtein plus transpositions). */
export function editDistance(a: string, b: string): number {
  // Three rows suffice: the transposition step looks two rows back.
  let before = new Array<number>(b.length + 1).fill(0)
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, before[j - 2]! + 1)
      }
      cur.push(d)
    }
    before = prev
    prev = cur
  }
  return prev[b.length]!
}

/** The known name `word` most likely stands for, or `undefined` when none is close. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase()
  // One edit per three characters, at least one and at most two: "an" → "and", not "x" → "all".
  const limit = Math.min(2, Math.max(1, Math.floor(w.length / 3)))
  let best: { name: string; rank: number } | undefined
  for (const name of known) {
    const n = name.toLowerCase()
    const d = editDistance(w, n)
    // A prefix (`disruption` → `disruptionBudgets`) ranks after every close spelling.
    const rank = d <= limit ? d : w.length >= 3 && n.startsWith(w) ? limit + 1 : undefined
    if (rank !== undefined && (best === undefined || rank < best.rank)) best = { name, rank }
  }
  return best?.name
}
