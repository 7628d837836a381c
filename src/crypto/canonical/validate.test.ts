/**
 * Tests of strict parsing through the public API of canonical-json.ts: what is accepted and
 * how, and every refusal with its message and offset.
 */
import { describe, expect, test } from 'bun:test'
import {
  canonicalize,
  canonicalizeValue,
  decodeUtf8Strict,
  JsonSyntaxError,
  parseCanonical,
  parseJson,
  type JsonValue,
} from '../canonical-json.ts'

const utf8 = new TextEncoder()
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const canon = (input: string | Uint8Array): string => text(canonicalize(input))

function expectSyntaxError(input: string | Uint8Array, message: RegExp): JsonSyntaxError {
  let caught: unknown
  try {
    canonicalize(input)
  } catch (e) {
    caught = e
  }
  expect(caught).toBeInstanceOf(JsonSyntaxError)
  const err = caught as JsonSyntaxError
  expect(err.name).toBe('JsonSyntaxError')
  expect(err.message).toMatch(/^invalid JSON at offset \d+: /)
  expect(err.message).toMatch(message)
  return err
}

describe('parsing', () => {
  test('parseJson returns plain values', () => {
    expect(parseJson('{"a":[1,"x",null,true,{"b":-0.5}]}')).toEqual({
      a: [1, 'x', null, true, { b: -0.5 }],
    })
    expect(parseJson('  7 ')).toBe(7)
  })

  test('__proto__ stays an own data property', () => {
    const value = parseJson('{"__proto__":{"polluted":true},"a":1}') as Record<string, JsonValue>
    expect(Object.keys(value)).toEqual(['__proto__', 'a'])
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect((value as { polluted?: unknown }).polluted).toBeUndefined()
    expect(JSON.stringify(value)).toBe('{"__proto__":{"polluted":true},"a":1}')
    expect(canon('{"b":0,"__proto__":{"polluted":true}}')).toBe(
      '{"__proto__":{"polluted":true},"b":0}'
    )
    expect(canonicalizeValue(value)).toBe('{"__proto__":{"polluted":true},"a":1}')
  })

  test('parseCanonical returns the value and the canonical bytes from one call', () => {
    const bytes = utf8.encode('{"z":[1,{"y":2,"x":1}],"a":"é"}')
    const { value, canonical } = parseCanonical(bytes)
    expect(value).toEqual({ z: [1, { y: 2, x: 1 }], a: 'é' })
    expect(text(canonical)).toBe('{"a":"é","z":[1,{"x":1,"y":2}]}')
    expect(canonical).toBeInstanceOf(Uint8Array)
    expect(canonical.byteOffset).toBe(0)
    expect(canonical.buffer.byteLength).toBe(canonical.length)
  })

  test('valid surrogate pairs are accepted, escaped or raw, and emitted literally', () => {
    expect(canon('"\\ud83d\\ude00"')).toBe('"\ud83d\ude00"')
    expect(canon('"\\uD83D\\uDE00"')).toBe('"😀"')
    expect(canon('"😀"')).toBe('"😀"')
    expect(canon(utf8.encode('{"😀":"😀"}'))).toBe('{"😀":"😀"}')
    expect(parseJson('"\\ud83d\\ude00x"')).toBe('😀x')
  })

  test('nesting is limited to 1000 levels', () => {
    const deepest = '['.repeat(1000) + ']'.repeat(1000)
    expect(canon(deepest)).toBe(deepest)
    expect(canonicalizeValue(parseJson(deepest))).toBe(deepest)
    expectSyntaxError('['.repeat(1001) + ']'.repeat(1001), /nesting deeper than 1000/)
    expectSyntaxError('{"a":'.repeat(1001) + '1' + '}'.repeat(1001), /nesting deeper than 1000/)
  })
})

describe('rejections', () => {
  test('duplicate keys, compared after unescaping', () => {
    const err = expectSyntaxError('{"a":1,"a":2}', /duplicate key "a"/)
    expect(err.offset).toBe(7)
    expectSyntaxError('{"x":{"b":1,"a":2,"b":3}}', /duplicate key "b"/)
    expectSyntaxError('[{"ok":1},{"n":{"q":1,"q":1}}]', /duplicate key "q"/)
    expectSyntaxError('{"a":1,"\\u0061":2}', /duplicate key "a"/)
    expectSyntaxError('{"\\u0061":1,"a":2}', /duplicate key "a"/)
    expectSyntaxError('{"a\\n":1,"b":0,"a\\u000a":2}', /duplicate key "a\\n"/)
    expect(() => parseJson('{"a":1,"a":1}')).toThrow(JsonSyntaxError)
  })

  test('duplicates are found in objects of every size, and only among siblings', () => {
    // Small objects are searched linearly and larger ones through a set: cross that boundary.
    for (let n = 1; n <= 40; n++) {
      const members = Array.from({ length: n }, (_, i) => `"k${i}":{"k${i}":${i}}`)
      expect(() => parseJson(`{${members.join(',')}}`)).not.toThrow()
      for (const d of [0, n - 1]) {
        const doc = `{${members.join(',')},"k${d}":0}`
        const err = expectSyntaxError(doc, new RegExp(`duplicate key "k${d}"`))
        expect(err.offset).toBe(doc.length - `"k${d}":0}`.length)
      }
    }
    // Keys of enclosing and of earlier sibling objects are no duplicates.
    const wide = Array.from({ length: 20 }, (_, i) => `"w${i}":0`).join(',')
    expect(canon(`{"a":{"a":1,"b":{"a":2,${wide}}},"b":[{"a":3},{"a":4}],"w0":{"b":5}}`)).toBe(
      `{"a":{"a":1,"b":{"a":2,${wide.split(',').sort().join(',')}}},"b":[{"a":3},{"a":4}],` +
        `"w0":{"b":5}}`
    )
    expectSyntaxError('{"a":{"b":{"c":1}},"a":2}', /duplicate key "a"/)
  })

  test('long keys are truncated in messages', () => {
    const key = 'k'.repeat(500)
    const err = expectSyntaxError(`{"${key}":1,"${key}":2}`, /duplicate key "k{40}…"/)
    expect(err.message.length).toBeLessThan(120)
  })

  test('lone surrogates, escaped or raw', () => {
    expectSyntaxError('"\\ud800"', /lone surrogate \\ud800 in string/)
    expectSyntaxError('"\\udc00"', /lone surrogate \\udc00 in string/)
    expectSyntaxError('"\\ud800\\u0041"', /lone surrogate \\ud800 in string/)
    expectSyntaxError('"\\ude00\\ud83d"', /lone surrogate \\ude00 in string/)
    expectSyntaxError('"x\\uD800"', /lone surrogate \\ud800 in string/)
    expectSyntaxError('{"\\ud800":1}', /lone surrogate \\ud800 in string/)
    const raw = expectSyntaxError('"ab\ud800"', /lone surrogate \\ud800 in string/)
    expect(raw.offset).toBe(3)
    expectSyntaxError('"\udc00"', /lone surrogate \\udc00 in string/)
    expectSyntaxError('"\ud800\\udc00"', /lone surrogate \\ud800 in string/)
    expectSyntaxError('["é", \ud800]', /lone surrogate \\ud800/)
    // A genuine U+FFFD is fine.
    expect(canon('"\ufffd"')).toBe('"\ufffd"')
    expect(() => canonicalizeValue('\ud800')).toThrow(/lone surrogate/)
    expect(() => canonicalizeValue({ ['\udc00']: 1 })).toThrow(/lone surrogate/)
  })

  test('invalid UTF-8 bytes', () => {
    const bad = [
      [0x22, 0xff, 0x22],
      [0x22, 0xc0, 0x80, 0x22], // overlong
      [0x22, 0xe2, 0x82, 0x22], // truncated
      [0x22, 0xed, 0xa0, 0x80, 0x22], // encoded surrogate
      [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], // above U+10FFFF
      [0x5b, 0x80, 0x5d], // stray continuation outside a string
    ]
    for (const bytes of bad) {
      const err = expectSyntaxError(new Uint8Array(bytes), /invalid UTF-8/)
      expect(err.offset).toBe(1)
      expect(() => parseCanonical(new Uint8Array(bytes))).toThrow(/invalid UTF-8/)
      expect(() => decodeUtf8Strict(new Uint8Array(bytes))).toThrow(JsonSyntaxError)
    }
    // Byte input is decoded before it is parsed, so bad UTF-8 is reported even after bad syntax.
    expect(expectSyntaxError(new Uint8Array([0x7b, 0x31, 0xff]), /invalid UTF-8/).offset).toBe(2)
    expect(decodeUtf8Strict(utf8.encode('é😀'))).toBe('é😀')
    expect(decodeUtf8Strict(new Uint8Array([0xef, 0xbb, 0xbf, 0x31]))).toBe('\ufeff1')
  })

  test('syntax errors name the problem', () => {
    const cases: [string, RegExp][] = [
      ['', /unexpected end of input/],
      ['{"a":1', /unexpected end of input/],
      ['["abc', /unexpected end of input in string/],
      ['"\\u12', /unexpected end of input in string|invalid \\u escape/],
      ['{} {}', /trailing data/],
      ['1 2', /trailing data/],
      ['01', /leading zero/],
      ['-012', /leading zero/],
      ['NaN', /NaN is not valid JSON/],
      ['[Infinity]', /Infinity is not valid JSON/],
      ['-Infinity', /-Infinity is not valid JSON/],
      ['[1,]', /trailing comma in array/],
      ['{"a":1,}', /trailing comma in object/],
      ['"a\u0001b"', /unescaped control character U\+0001 in string/],
      ['"tab\there"', /unescaped control character U\+0009 in string/],
      ['1e400', /out of range/],
      ['1.7976931348623159e308', /out of range/],
      ['2' + '0'.repeat(308), /out of range/],
      ['[-1e400]', /out of range/],
      ['\ufeff{}', /byte order mark/],
      ['{a:1}', /expected string key in object/],
      ["{'a':1}", /expected string key in object/],
      ['{"a" 1}', /expected ':' after object key/],
      ['[1 2]', /expected ',' or '\]' in array/],
      ['{"a":1 "b":2}', /expected ',' or '\}' in object/],
      ['"\\x"', /invalid escape "\\x" in string/],
      ['"\\u12G4"', /invalid \\u escape/],
      ['tru', /unexpected character "t"/],
      ['1.', /expected digit after decimal point/],
      ['.5', /unexpected character "."/],
      ['1e', /expected digit in exponent/],
      ['-', /unexpected end of input/],
      ['+1', /unexpected character "\+"/],
      ['[\u00a0]', /unexpected character U\+00A0/],
    ]
    for (const [input, message] of cases) {
      expectSyntaxError(input, message)
      expect(() => parseJson(input)).toThrow(JsonSyntaxError)
    }
    expectSyntaxError(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), /byte order mark/)
  })

  test('offsets are UTF-16 units for strings and bytes for Uint8Array', () => {
    expect(expectSyntaxError('["é",]', /trailing comma/).offset).toBe(5)
    expect(expectSyntaxError(utf8.encode('["é",]'), /trailing comma/).offset).toBe(6)
    expect(expectSyntaxError('["😀" x]', /expected ','/).offset).toBe(6)
    expect(expectSyntaxError(utf8.encode('["😀" x]'), /expected ','/).offset).toBe(8)
    expect(expectSyntaxError('{"é€😀":1 x}', /expected ','/).offset).toBe(10)
    expect(expectSyntaxError(utf8.encode('{"é€😀":1 x}'), /expected ','/).offset).toBe(15)
  })
})
