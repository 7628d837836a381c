/**
 * Shell completion scripts for bash, zsh and fish, generated from the command table so they
 * can never list a command or flag that does not exist: the first word completes to commands
 * and command groups (`rollout`, `host`, …), the second to a group's subcommands, and a word
 * starting with `-` to the flags of the command typed so far; anything else completes files.
 */
import type { Command } from './command.ts'

type Shape = {
  /** First words, with the summary of the command (or the group's name). */
  readonly top: readonly (readonly [string, string])[]
  /** Group → its subcommands with summaries. */
  readonly groups: ReadonlyMap<string, readonly (readonly [string, string])[]>
  /** Full command name → its flags. */
  readonly flags: ReadonlyMap<string, readonly string[]>
}

function shapeOf(commands: readonly Command[]): Shape {
  const top = new Map<string, string>()
  const groups = new Map<string, [string, string][]>()
  const flags = new Map<string, string[]>()
  for (const c of commands) {
    const [first, second] = c.spec.name.split(' ') as [string, string | undefined]
    if (second === undefined) top.set(first, c.spec.summary)
    else {
      if (!top.has(first)) top.set(first, `${first} commands`)
      groups.set(first, [...(groups.get(first) ?? []), [second, c.spec.summary]])
    }
    flags.set(c.spec.name, [...Object.keys(c.spec.options).map((o) => `--${o}`), '--help'])
  }
  return { top: [...top], groups, flags }
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

function bash(s: Shape): string {
  const cases = [...s.flags].map(([name, f]) => `    ${sq(name)}) opts=${sq(f.join(' '))} ;;`)
  const subs = [...s.groups].map(
    ([g, subs]) => `    ${sq(g)}) words=${sq(subs.map(([w]) => w).join(' '))} ;;`
  )
  return `# bash completion for nixfleet (nixfleet completion bash)
_nixfleet() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" key="\${COMP_WORDS[1]}" words="" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${sq(s.top.map(([w]) => w).join(' '))} -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${subs.join('\n')}
  esac
  if [ -n "$words" ]; then
    if [ "$COMP_CWORD" -eq 2 ]; then
      COMPREPLY=($(compgen -W "$words" -- "$cur"))
      return
    fi
    key="\${COMP_WORDS[1]} \${COMP_WORDS[2]}"
  fi
  case "$key" in
${cases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _nixfleet nixfleet
`
}

function zsh(s: Shape): string {
  const desc = (pairs: readonly (readonly [string, string])[]) =>
    pairs.map(([w, d]) => sq(`${w}:${d.replace(/:/g, '\\:')}`)).join(' ')
  const subs = [...s.groups].map(([g, subs]) => `    (${g}) sub=(${desc(subs)}) ;;`)
  const cases = [...s.flags].map(([name, f]) => `    (${sq(name)}) opts=(${f.join(' ')}) ;;`)
  return `#compdef nixfleet
# zsh completion for nixfleet (nixfleet completion zsh)
_nixfleet() {
  local -a top sub opts
  local key
  if (( CURRENT == 2 )); then
    top=(${desc(s.top)})
    _describe 'command' top
    return
  fi
  key=$words[2]
  case $words[2] in
${subs.join('\n')}
  esac
  if (( \${#sub} )); then
    if (( CURRENT == 3 )); then
      _describe 'subcommand' sub
      return
    fi
    key="$words[2] $words[3]"
  fi
  case $key in
${cases.join('\n')}
  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- $opts
  else
    _files
  fi
}
_nixfleet "$@"
`
}

function fish(s: Shape): string {
  const lines = ['# fish completion for nixfleet (nixfleet completion fish)']
  for (const [w, d] of s.top)
    lines.push(`complete -c nixfleet -n __fish_use_subcommand -a ${sq(w)} -d ${sq(d)}`)
  for (const [g, subs] of s.groups) {
    const none = `not __fish_seen_subcommand_from ${subs.map(([w]) => w).join(' ')}`
    for (const [w, d] of subs)
      lines.push(
        `complete -c nixfleet -n ${sq(`__fish_seen_subcommand_from ${g}; and ${none}`)} -a ${sq(w)} -d ${sq(d)}`
      )
  }
  for (const [name, f] of s.flags) {
    const cond = name
      .split(' ')
      .map((w) => `__fish_seen_subcommand_from ${w}`)
      .join('; and ')
    for (const flag of f) lines.push(`complete -c nixfleet -n ${sq(cond)} -l ${flag.slice(2)}`)
  }
  return `${lines.join('\n')}\n`
}

/** The completion script of `shell` for `commands`. */
export function completionScript(
  shell: 'bash' | 'zsh' | 'fish',
  commands: readonly Command[]
): string {
  const s = shapeOf(commands)
  return shell === 'bash' ? bash(s) : shell === 'zsh' ? zsh(s) : fish(s)
}
