/**
 * Tests of the canonical form: the RFC 8785 conformance vectors, number formatting, key order
 * and escaping, and properties over random documents. Strict parsing is tested in
 * canonical/validate.test.ts.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import {
  canonicalize,
  canonicalizeValue,
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

/** Several JSON spellings of the same double: shortest, exponent and 17-20 digit forms. */
function spellings(n: number): string[] {
  const out = [String(n), n.toExponential(), n.toPrecision(17), n.toExponential(20)]
  if (Number.isInteger(n) && Math.abs(n) < 1e25) out.push(BigInt(n).toString())
  // toExponential gives "1e+21"; JSON also allows "1E21" and "1.0e21".
  out.push(n.toExponential().replace('e+', 'E'))
  return out.map((s) => (s === '-0' ? '-0.0' : s))
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
      const fromHex = new Uint8Array(
        hex
          .trim()
          .split(/\s+/)
          .map((h) => parseInt(h, 16))
      )
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
      ['1' + '0'.repeat(308), '1e+308'],
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
    const raw = '{"\u20ac":1,"\ud83d\ude00":2,"\\r":3,"1":4,"a":5,"\ufb33":6,"\u0080":7,"\u00f6":8}'
    expect(canon(raw)).toBe(expected)
    expect(canon(utf8.encode(raw))).toBe(expected)
    expect(canon('{"\ufb33":1,"\ud83d\ude00":2}')).toBe('{"\ud83d\ude00":2,"\ufb33":1}')
    expect(canon('{"\ud83d\ude00":2,"\ufb33":1}')).toBe('{"\ud83d\ude00":2,"\ufb33":1}')
    // Code unit order, not locale collation (compare fixtures/jcs/input/french.json).
    expect(canon('{"pêche":1,"péché":2,"peach":3}')).toBe('{"peach":3,"péché":2,"pêche":1}')
  })

  test('large objects sort and detect duplicates', () => {
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
    const duplicated = input.slice(0, -1) + ',"k0\u00e9\ud83d\ude00":1}'
    expect(() => canonicalize(duplicated)).toThrow(/duplicate key "k0é😀"/)
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
