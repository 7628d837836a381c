/**
 * The operator's command line as integration tests run it: the compiled `nixfleet` binary, one
 * process per command with the environment the test gives (the connection settings), its exit
 * code and output; `ok` for a command that must succeed, `json` for its parsed `--json` output;
 * `poll` for a condition with a deadline; `collect` for the output of a long-running command
 * (`status --watch`) while it runs; `canaryFleet`, the lab fleet these tests run against. No fixed
 * sleeps: every wait is for a condition.
 */
import { Lab } from '../../src/lab/lab.ts'

/** What a command did. */
export type Run = { code: number; stdout: string; stderr: string }

/** Commands run as an operator with the environment `env()` gives at each call. */
export type OperatorCli = {
  /** Runs `nixfleet ARGS`, whatever its exit code. */
  nf(args: readonly string[], env?: Record<string, string>): Promise<Run>
  /** Runs a command that must succeed (exit 0). */
  ok(args: readonly string[]): Promise<Run>
  /** Runs a command that must succeed with `--json` and parses its stdout. */
  json<T = Record<string, unknown>>(args: readonly string[]): Promise<T>
}

/** The operator CLI of `bin()` (resolved at each call: tests build it in `beforeAll`). */
export function operatorCli(bin: () => string, env: () => Record<string, string>): OperatorCli {
  const nf = async (args: readonly string[], e: Record<string, string> = env()): Promise<Run> => {
    const proc = Bun.spawn([bin(), ...args], {
      env: e,
      stdout: 'pipe',
      stderr: 'pipe',
      stdin: 'ignore',
    })
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    return { code, stdout, stderr }
  }
  const ok = async (args: readonly string[]): Promise<Run> => {
    const r = await nf(args)
    if (r.code !== 0) throw new Error(`nixfleet ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
    return r
  }
  const json = async <T>(args: readonly string[]): Promise<T> =>
    JSON.parse((await ok([...args, '--json'])).stdout) as T
  return { nf, ok, json }
}

/** Polls `check` every 100 ms until it returns a value; fails naming `what` after 60 s. */
export async function poll<T>(
  what: string | (() => string),
  check: () => Promise<T | false> | T | false
): Promise<T> {
  const deadline = performance.now() + 60_000
  for (;;) {
    const value = await check()
    if (value !== false) return value
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)
    await Bun.sleep(100)
  }
}

/**
 * The output of a running process, read as it comes: `text()` is everything so far; `done`
 * settles once the stream ends (the process exited).
 */
export function collect(stream: ReadableStream<Uint8Array>): {
  text(): string
  done: Promise<void>
} {
  const seen: string[] = []
  const decoder = new TextDecoder()
  const done = (async () => {
    for await (const chunk of stream) seen.push(decoder.decode(chunk, { stream: true }))
  })()
  return { text: () => seen.join(''), done }
}

/**
 * The lab fleet of the operator CLI tests (no process runs yet): channel `stable`, the canary
 * alone in wave 0 and `others` in wave 1, no soak; a canary that fails its probe for
 * `sustainedFailureSecs` is rolled back, its closure quarantined and the rollout halted.
 */
export function canaryFleet(
  dir: string,
  bin: string,
  others: readonly string[],
  sustainedFailureSecs: number
): Promise<Lab> {
  return Lab.create({
    dir,
    bin,
    plan: {
      channels: [
        {
          name: 'stable',
          soakMinutes: [0, 0],
          onHealthFailure: 'rollback-and-halt',
          sustainedFailureSecs,
        },
      ],
      hosts: [
        { name: 'canary', channel: 'stable', wave: 0 },
        ...others.map((name) => ({ name, channel: 'stable', wave: 1 })),
      ],
    },
  })
}
