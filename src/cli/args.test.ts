/**
 * The argument parser's usage errors: an unknown option names the command and the closest
 * declared flag; a count option accepts only positive integers.
 */
import { describe, expect, test } from 'bun:test'
import { type CommandSpec, parseCommandArgs, positiveIntOpt } from './args.ts'
import { CliError } from './errors.ts'

const spec: CommandSpec = {
  name: 'status',
  summary: 's',
  options: {
    watch: { type: 'boolean', description: 'w' },
    channel: { type: 'string', description: 'c' },
    last: { type: 'string', description: 'n' },
  },
}

const usageError = (f: () => unknown): CliError => {
  try {
    f()
  } catch (e) {
    if (e instanceof CliError) return e
    throw e
  }
  throw new Error('expected a CliError')
}

describe('unknown options', () => {
  test('name the command and the closest flag, without the raw parser text', () => {
    const e = usageError(() => parseCommandArgs(spec, ['--wach'], {}))
    expect(e.message).toBe("unknown option --wach for 'nixfleet status' (did you mean --watch?)")
    expect(e.exitCode).toBe(2)
  })

  test('a flag close to none points at --help', () => {
    const e = usageError(() => parseCommandArgs(spec, ['--frobnicate'], {}))
    expect(e.message).toBe(
      "unknown option --frobnicate for 'nixfleet status' (see nixfleet status --help)"
    )
    expect(usageError(() => parseCommandArgs(spec, ['-x'], {})).message).toContain(
      "unknown option -x for 'nixfleet status'"
    )
  })
})

describe('positiveIntOpt', () => {
  const last = (v: string) =>
    positiveIntOpt(parseCommandArgs(spec, [`--last=${v}`], {}), 'x', 'last')

  test('accepts 1 and more; absent is undefined', () => {
    expect(last('1')).toBe(1)
    expect(last('20')).toBe(20)
    expect(positiveIntOpt(parseCommandArgs(spec, [], {}), 'x', 'last')).toBeUndefined()
  })

  test('0, negatives and words are usage errors naming the flag', () => {
    for (const bad of ['0', '-1', '01', 'ten', '1.5']) {
      const e = usageError(() => last(bad))
      expect(e.message).toContain('--last must be a positive integer')
      expect(e.exitCode).toBe(2)
    }
  })
})
