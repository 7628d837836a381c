import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import {
  canonicalize,
  canonicalizeValue,
  decodeUtf8Strict,
  JsonSyntaxError,
  parseCanonical,
  parseJson,
  type JsonValue,
} from './canonical-json.ts'

/** Resolves a path inside the JCS conformance fixtures (tests/fixtures/jcs, see its README). */
function fixture(relative: string): URL {
  return new URL(relative, new URL('../../tests/fixtures/jcs/', import.meta.url))
}

const utf8 = new TextEncoder()
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const canon = (input: string | Uint8Array): string => text(canonicalize(input))

/** The double whose IEEE-754 bits are the given hex (shorter hex is zero-padded on the left). */
function doubleFromHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, BigInt('0x' + hex.padStart(16, '0')))
  return view.getFloat64(0)
}

/** Several JSON spellings of the same double, to exercise both number paths. */
function spellings(n: number): string[] {
  const out = [String(n), n.toExponential(), n.toPrecision(17), n.toExponential(20)]
  if (Number.isInteger(n) && Math.abs(n) < 1e25) out.push(BigInt(n).toString())
  // toExponential gives "1e+21"; JSON also allows "1E21" and "1.0e21".
  out.push(n.toExponential().replace('e+', 'E'))
  return out.map((s) => (s === '-0' ? '-0.0' : s))
}

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

describe('conformance fixtures (cyberphone/json-canonicalization testdata)', () => {
  const names = readdirSync(fixture('input/')).filter((n) => n.endsWith('.json'))

  test('the fixture set is present', () => {
    expect(names.length).toBeGreaterThanOrEqual(7)
  })

  for (const name of names) {
    test(`${name} canonicalizes byte-exactly to output/ and outhex/`, () => {
      const input = readFileSync(fixture(`input/${name}`))
      const expected = new Uint8Array(readFileSync(fixture(`output/${name}`)))
      const hex = readFileSync(fixture(`outhex/${name.replace(/\.json$/, '.txt')}`), 'utf8')
      const fromHex = new Uint8Array(hex.trim().split(/\s+/).map((h) => parseInt(h, 16)))
      expect(fromHex).toEqual(expected)
      expect(canonicalize(new Uint8Array(input))).toEqual(expected)
      expect(canonicalize(input.toString('utf8'))).toEqual(expected)
      expect(parseCanonical(new Uint8Array(input)).canonical).toEqual(expected)
      expect(utf8.encode(canonicalizeValue(parseJson(input.toString('utf8'))))).toEqual(expected)
    })
  }
})

describe('numbers', () => {
  test('RFC 8785 Appendix B table', () => {
    const rows = JSON.parse(readFileSync(fixture('numbers/rfc8785-appendix-b.json'), 'utf8')) as {
      ieee754: string
      expected: string | null
    }[]
    expect(rows.length).toBe(26)
    for (const row of rows) {
      const n = doubleFromHex(row.ieee754)
      if (row.expected === null) {
        expect(Number.isFinite(n)).toBe(false)
        expect(() => canonicalizeValue(n)).toThrow(TypeError)
        continue
      }
      expect(canonicalizeValue(n)).toBe(row.expected)
      for (const spelling of spellings(n)) expect(canon(`[${spelling}]`)).toBe(`[${row.expected}]`)
    }
  })

  test('es6testfile samples (all lines of the bundled sample file)', () => {
    const lines = readFileSync(fixture('numbers/es6testfile-samples.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) {
      const [hex, expected] = line.trim().split(',') as [string, string]
      const n = doubleFromHex(hex)
      expect(canonicalizeValue(n)).toBe(expected)
      for (const spelling of spellings(n)) expect(canon(spelling)).toBe(expected)
    }
  })

  test('-0 -> 0, 1e21 -> 1e+21, 5e-7 -> 5e-7 and other ECMAScript layouts', () => {
    const cases: [string, string][] = [
      ['-0', '0'],
      ['-0.0e5', '0'],
      ['0.0', '0'],
      ['1e21', '1e+21'],
      ['1E21', '1e+21'],
      ['100000000000000000000', '100000000000000000000'],
      ['1e20', '100000000000000000000'],
      ['5e-7', '5e-7'],
      ['0.0000005', '5e-7'],
      ['0.000001', '0.000001'],
      ['1.5', '1.5'],
      ['-1.50', '-1.5'],
      ['4.50', '4.5'],
      ['2e-3', '0.002'],
      ['123456789012345', '123456789012345'],
      ['1234567890123456789', '1234567890123456800'],
      ['9007199254740993', '9007199254740992'],
      ['0.1', '0.1'],
      ['0.30000000000000004', '0.30000000000000004'],
      ['1e-7', '1e-7'],
      ['12.34e5', '1234000'],
      ['1.2345678901234567e300', '1.2345678901234567e+300'],
      ['1e-400', '0'],
      ['5e-324', '5e-324'],
      ['1.7976931348623157e308', '1.7976931348623157e+308'],
    ]
    for (const [input, expected] of cases) expect(canon(input)).toBe(expected)
    expect(canonicalizeValue(-0)).toBe('0')
  })

  test('any spelling of a finite double canonicalizes to Number-to-String', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const expected = Object.is(n, -0) ? '0' : String(n)
        for (const spelling of spellings(n)) expect(canon(spelling)).toBe(expected)
      }),
      { numRuns: 2000 }
    )
  })

  test('random decimal literals match String(Number(literal))', () => {
    const digits = (min: number, max: number) =>
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max })
    const literal = fc
      .tuple(
        fc.boolean(),
        fc.oneof(fc.constant('0'), fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 20))),
        fc.option(digits(1, 20)),
        fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3)))
      )
      .map(([neg, int, frac, exp]) => {
        const intPart = typeof int === 'string' ? int : `${int[0]}${int[1]}`
        return (
          (neg ? '-' : '') +
          intPart +
          (frac === null ? '' : `.${frac}`) +
          (exp === null ? '' : exp.join(''))
        )
      })
    fc.assert(
      fc.property(literal, (lit) => {
        const n = Number(lit)
        if (!Number.isFinite(n)) {
          expect(() => canonicalize(lit)).toThrow(/out of range/)
          return
        }
        expect(canon(lit)).toBe(Object.is(n, -0) ? '0' : String(n))
      }),
      { numRuns: 5000 }
    )
  })
})

describe('canonical form', () => {
  test('golden document', () => {
    const input = '{"b":2,"a":{"z":null,"y":true,"x":[3,1,2]},"schemaVersion":1}'
    const expected = '{"a":{"x":[3,1,2],"y":true,"z":null},"b":2,"schemaVersion":1}'
    expect(canon(input)).toBe(expected)
    expect(canon(utf8.encode(input))).toBe(expected)
    expect(canonicalizeValue(parseJson(input))).toBe(expected)
  })

  test('is idempotent on canonical output', () => {
    const input = readFileSync(fixture('input/weird.json'))
    const once = canonicalize(new Uint8Array(input))
    expect(canonicalize(once)).toEqual(once)
    const golden = canonicalize('{"b":[{"d":1,"c":2}],"a":"\\u0000\\"\\\\"}')
    expect(canonicalize(golden)).toEqual(golden)
  })

  test('keys sort by UTF-16 code units (RFC 8785 §3.2.3), escaped or raw', () => {
    const escaped =
      '{"\\u20ac":1,"\\ud83d\\ude00":2,"\\r":3,"1":4,"a":5,"\\ufb33":6,"\\u0080":7,"\\u00f6":8}'
    const expected =
      '{"\\r":3,"1":4,"a":5,"\u0080":7,"\u00f6":8,"\u20ac":1,"\ud83d\ude00":2,"\ufb33":6}'
    expect(canon(escaped)).toBe(expected)
    // Raw keys take the byte-comparison path: U+1F600 (F0 ..) must still sort before U+FB33 (EF ..)
    const raw =
      '{"\u20ac":1,"\ud83d\ude00":2,"\\r":3,"1":4,"a":5,"\ufb33":6,"\u0080":7,"\u00f6":8}'
    expect(canon(raw)).toBe(expected)
    expect(canon(utf8.encode(raw))).toBe(expected)
    expect(canon('{"\ufb33":1,"\ud83d\ude00":2}')).toBe('{"\ud83d\ude00":2,"\ufb33":1}')
    expect(canon('{"\ud83d\ude00":2,"\ufb33":1}')).toBe('{"\ud83d\ude00":2,"\ufb33":1}')
    // Code unit order, not locale collation (compare fixtures/jcs/input/french.json).
    expect(canon('{"pêche":1,"péché":2,"peach":3}')).toBe('{"peach":3,"péché":2,"pêche":1}')
  })

  test('large objects (comparator sort path) sort and detect duplicates', () => {
    const keys = Array.from(
      { length: 300 },
      (_, i) => `k${(i * 7919) % 1000}\u00e9${i % 3 ? '' : '\ud83d\ude00'}`
    )
    keys.push('\ufb33', '\ud83d\ude02', 'A', '')
    const obj: Record<string, number> = {}
    keys.forEach((k, i) => (obj[k] = i))
    const input = '{' + keys.map((k, i) => `${JSON.stringify(k)}:${i}`).join(',') + '}'
    const sorted = [...keys].sort()
    const expected = '{' + sorted.map((k) => `${JSON.stringify(k)}:${obj[k]}`).join(',') + '}'
    expect(canon(input)).toBe(expected)
    expectSyntaxError(input.slice(0, -1) + ',"k0\u00e9\ud83d\ude00":1}', /duplicate key "k0é😀"/)
  })

  test('strings are escaped minimally', () => {
    const input = '"\\b\\f\\n\\r\\t\\/\\"\\\\\\u0000\\u001f\\u007f\\u2028\\u2029\\u00e9\\u20AC"'
    const expected = '"\\b\\f\\n\\r\\t/\\"\\\\\\u0000\\u001f\u007f\u2028\u2029é€"'
    expect(canon(input)).toBe(expected)
    expect(canon(`"raw \u007f\u2028 é"`)).toBe(`"raw \u007f\u2028 é"`)
    expect(canonicalizeValue('\u0001\n"\\\u2028')).toBe('"\\u0001\\n\\"\\\\\u2028"')
  })

  test('whitespace is dropped, arrays keep their order, literals survive', () => {
    expect(canon(' \t\r\n[ 3 , 1 ,\n 2 , null , true , false , { } , [ ] ] \n')).toBe(
      '[3,1,2,null,true,false,{},[]]'
    )
    expect(canon('"x"')).toBe('"x"')
    expect(canon('null')).toBe('null')
  })

  test('escaped keys with control characters sort by their decoded value', () => {
    // Canonically U+000A is written as the escape \n, yet sorts as U+000A; '\\' (U+005C)
    // sorts before 'a' (U+0061) although its canonical escape starts with a backslash too.
    expect(canon('{"b":1,"\\u000a":2,"a\\"":3,"a":4,"\\\\":5}')).toBe(
      '{"\\n":2,"\\\\":5,"a":4,"a\\"":3,"b":1}'
    )
  })
})

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
  })

  test('canonicalizeValue rejects what JSON cannot carry', () => {
    expect(() => canonicalizeValue(NaN)).toThrow(TypeError)
    expect(() => canonicalizeValue([1, Infinity])).toThrow(/non-finite number Infinity at \[1\]/)
    expect(() => canonicalizeValue({ a: undefined } as unknown as JsonValue)).toThrow(/undefined/)
    expect(() => canonicalizeValue(new Date(0) as unknown as JsonValue)).toThrow(/Date/)
    expect(() => canonicalizeValue(10n as unknown as JsonValue)).toThrow(/bigint/)
    const cyclic: JsonValue[] = []
    cyclic.push(cyclic)
    expect(() => canonicalizeValue(cyclic)).toThrow(/nesting deeper/)
    expect(canonicalizeValue(Object.assign(Object.create(null), { b: 1, a: [] }))).toBe(
      '{"a":[],"b":1}'
    )
  })
})

describe('properties', () => {
  test('canonical form ignores formatting, is idempotent and preserves the data', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const compact = JSON.stringify(v)
        const pretty = JSON.stringify(v, null, 2)
        const c1 = canonicalize(compact)
        expect(canonicalize(pretty)).toEqual(c1)
        expect(canonicalize(utf8.encode(pretty))).toEqual(c1)
        expect(canonicalize(c1)).toEqual(c1)
        expect(JSON.parse(text(c1))).toEqual(JSON.parse(compact))
        // Canonicalizing the text and serializing the parsed value give the same form.
        expect(text(c1)).toBe(canonicalizeValue(JSON.parse(compact) as JsonValue))
        expect(parseJson(pretty)).toEqual(JSON.parse(compact))
      }),
      { numRuns: 500 }
    )
  })

  test('keys with arbitrary Unicode sort like JS string comparison', () => {
    const key = fc.string({ unit: 'binary', maxLength: 6 })
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 40 }), (keys) => {
        const input = '{' + keys.map((k, i) => `${JSON.stringify(k)}:${i}`).join(',') + '}'
        const order = keys.map((k, i) => [k, i] as const).sort(([a], [b]) => (a < b ? -1 : 1))
        const expected = '{' + order.map(([k, i]) => `${JSON.stringify(k)}:${i}`).join(',') + '}'
        expect(canon(input)).toBe(expected)
        expect(canon(utf8.encode(input))).toBe(expected)
      }),
      { numRuns: 300 }
    )
  })
})
