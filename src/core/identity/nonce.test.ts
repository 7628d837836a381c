import { expect, test } from 'bun:test'
import { mintedBeforeFloor, tokenFloorVerdict, usedNonceKeptUntil } from './nonce.ts'

const H = 3600_000

test('a used nonce is kept until its token expires, and at least the retention', () => {
  expect(usedNonceKeptUntil(72 * H, 0, 24 * H)).toBe(72 * H)
  expect(usedNonceKeptUntil(1 * H, 0, 24 * H)).toBe(24 * H)
})

test('the mintedAfter floor refuses tokens issued before it, not at or after it', () => {
  expect(mintedBeforeFloor(10 * H - 1, 10 * H)).toBe(true)
  expect(mintedBeforeFloor(10 * H, 10 * H)).toBe(false)
  expect(mintedBeforeFloor(0, null)).toBe(false)
})

test('after the database was lost, tokens issued before the loss are refused until a list signed later carries mintedAfter', () => {
  const lost = 10 * H
  // Fresh install: only the list's floor.
  expect(tokenFloorVerdict(0, null, null)).toBe('ok')
  expect(tokenFloorVerdict(1 * H, { signedAt: 0, mintedAfter: 2 * H }, null)).toBe(
    'minted-before-floor'
  )
  // Lost: every token issued before the loss, whatever the old list says.
  expect(tokenFloorVerdict(lost - 1, null, lost)).toBe('database-lost')
  expect(tokenFloorVerdict(lost - 1, { signedAt: lost - H, mintedAfter: H }, lost)).toBe(
    'database-lost'
  )
  expect(tokenFloorVerdict(lost, { signedAt: lost - H, mintedAfter: null }, lost)).toBe('ok')
  // Signed after the loss without a floor: the loss still rules.
  expect(tokenFloorVerdict(lost - 1, { signedAt: lost + 1, mintedAfter: null }, lost)).toBe(
    'database-lost'
  )
  // Re-signed after the loss with mintedAfter: that floor rules alone.
  const resigned = { signedAt: lost + 1, mintedAfter: 5 * H }
  expect(tokenFloorVerdict(5 * H, resigned, lost)).toBe('ok')
  expect(tokenFloorVerdict(5 * H - 1, resigned, lost)).toBe('minted-before-floor')
})
