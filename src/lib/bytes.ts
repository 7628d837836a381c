/**
 * Byte helpers with no domain terms: hex, base64, UTF-8, concatenation and comparison.
 * Invariant: decoders never throw; they return `undefined` for malformed input so callers
 * can name the offending file or field in their own error.
 */

const HEX = '0123456789abcdef'
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/
// Standard alphabet, padded; the reference encodes keys and fingerprints this way.
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The lowercase hex encoding of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    out += HEX[b >> 4]! + HEX[b & 15]!
  }
  return out
}

/** Decodes even-length hex (either case), or `undefined` when malformed. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (!HEX_RE.test(hex)) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** The standard, padded base64 encoding of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** Decodes standard padded base64 strictly (no whitespace, no URL alphabet), or `undefined`. */
export function fromBase64(b64: string): Uint8Array | undefined {
  if (!B64_RE.test(b64)) return undefined
  return new Uint8Array(Buffer.from(b64, 'base64'))
}

const encoder = new TextEncoder()

/** The UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0
  for (const p of parts) len += p.length
  const out = new Uint8Array(len)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
