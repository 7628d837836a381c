import { expect, test } from 'bun:test'
import { usedNonceKeptUntil } from './nonce.ts'

const H = 3600_000

test('a used nonce is kept until its token expires, and at least the retention', () => {
  expect(usedNonceKeptUntil(72 * H, 0, 24 * H)).toBe(72 * H)
  expect(usedNonceKeptUntil(1 * H, 0, 24 * H)).toBe(24 * H)
})
