/**
 * `promtool` (Debian's `prometheus` package; `.ci/run` installs it) for the monitoring tests:
 * `check metrics` on a daemon's real exposition, `check rules` and `test rules` on the shipped
 * rules. A missing promtool fails the test that needs it, naming the package.
 */

/** Runs `promtool ARGS` with `stdin`; its exit code and what it wrote. */
export function promtool(
  args: readonly string[],
  stdin?: string
): { code: number; output: string } {
  const bin = Bun.which('promtool')
  if (bin === null)
    throw new Error(
      "promtool not found on PATH: install Debian's prometheus package (.ci/run does)"
    )
  const r = Bun.spawnSync([bin, ...args], {
    stdin: stdin === undefined ? 'ignore' : new TextEncoder().encode(stdin),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  return { code: r.exitCode ?? -1, output: `${r.stdout.toString()}${r.stderr.toString()}` }
}

/** `promtool check metrics` on an exposition: `{ code: 0, output: '' }` when it is clean. */
export function checkMetrics(text: string): { code: number; output: string } {
  return promtool(['check', 'metrics'], text)
}
