/**
 * Strict UTF-8 for JSON bytes: decoding that refuses invalid sequences (WHATWG decoder rules,
 * so overlongs, encoded surrogates and code points above U+10FFFF are refused) and maps offsets
 * in the decoded text back to byte offsets, so errors point into the bytes the caller holds.
 */
import { JsonSyntaxError } from './types.ts'

// ignoreBOM keeps a leading U+FEFF in the text, so that the parser can refuse it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Decodes UTF-8 strictly: invalid sequences throw; a BOM is kept so the parser can reject it. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes)
  } catch {
    const at = firstInvalidUtf8(bytes)
    throw new JsonSyntaxError(at < 0 ? 0 : at, 'invalid UTF-8 byte sequence')
  }
}

/**
 * The byte offset of the first invalid UTF-8 sequence, or -1. Only called once the native
 * decoder has refused the bytes, to say where; it follows the same (WHATWG) rules.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    if (b < 0x80) {
      i++
      continue
    }
    // The sequence length, and the range of its second byte (narrower after E0, ED, F0, F4).
    let need: number
    let lo = 0x80
    let hi = 0xbf
    if (b >= 0xc2 && b <= 0xdf) need = 1
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2
      if (b === 0xe0)
        lo = 0xa0 // overlong
      else if (b === 0xed) hi = 0x9f // a surrogate
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3
      if (b === 0xf0)
        lo = 0x90 // overlong
      else if (b === 0xf4) hi = 0x8f // above U+10FFFF
    } else return i
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]
      if (c === undefined) return i
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return i
    }
    i += need + 1
  }
  return -1
}

/** The byte offset, in the UTF-8 encoding of well-formed `text`, of its code unit `units`. */
export function utf8Offset(text: string, units: number): number {
  let bytes = 0
  for (let i = 0; i < units && i < text.length; i++) {
    const c = text.charCodeAt(i)
    // Each half of a surrogate pair stands for 2 of the pair's 4 bytes.
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3
  }
  return bytes
}
