/**
 * The browser's clock, the only time the dashboard reads (countdowns, "last seen", freshness):
 * one module, as the daemons have theirs, so the rest of the page reads time in one way.
 */

/** Milliseconds since the epoch, now. */
export const now = (): number => Date.now()
