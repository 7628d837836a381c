import { expect, test } from 'bun:test'
import { mintedBeforeFloor, usedNonceKeptUntil } from './nonce.ts'

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
