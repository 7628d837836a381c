#!/usr/bin/env bash
# The mkFleet tests (nix/lib/mk-fleet.nix), run by nix/ci.sh:
#   fixtures/NAME.nix   must evaluate; its `resolved` must equal NAME.resolved.json (compared as
#                       canonical JSON, through the binary's `canonicalize`), pass the binary's
#                       `fleet check` (what mkFleet accepts, `release` accepts), and it must warn
#                       exactly the `# warning: TEXT` lines of its header (each TEXT a substring);
#   negative/NAME.nix   must fail to evaluate with every `# error: TEXT` line of its header.
# Then the template's fleet (fixtures/template.nix) is signed with `nixfleet release`, so the
# binary accepts what mkFleet produces.
#
# usage: nix/tests/mk-fleet/run.sh NIXFLEET [NIXPKGS_LIB_DIR] [--update]
#   NIXPKGS_LIB_DIR  evaluate with nixpkgs' lib (a directory holding lib/default.nix) instead of
#                    nix/tests/lib-shim.nix; the results must be the same
#   --update         rewrite the .resolved.json files from the current results (then review them)
# Needs nix-instantiate (Nix 2.8 or later); NIX_CONFIG / NIX_REMOTE as nix/ci.sh sets them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
update=false
args=()
for a in "$@"; do
  if [ "$a" = --update ]; then update=true; else args+=("$a"); fi
done
[ "${#args[@]}" -ge 1 ] || { sed -n '2,15p' "$0"; exit 2; }
nixfleet=$(realpath "${args[0]}")
lib_args=()
if [ "${#args[@]}" -ge 2 ]; then
  lib_dir=$(realpath "${args[1]}")
  lib_args=(--arg lib "import $lib_dir/lib")
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0 passed=0

fail() {
  failed=$((failed + 1))
  echo "  FAIL  $1"
  [ -z "${2:-}" ] || sed 's/^/        /' <<<"$2"
}

evaluate() { # fixture → stdout: resolved JSON; stderr: Nix's
  nix-instantiate --eval --strict --json "$here/eval.nix" --arg fixture "$1" "${lib_args[@]}" -A resolved
}

# Lines "# KIND: TEXT" of a fixture's header.
expected() { sed -n "s/^# $1: //p" "$2"; }

echo "==> mkFleet golden fixtures${lib_dir:+ (lib: $lib_dir)}"
for fixture in "$here"/fixtures/*.nix; do
  name=$(basename "$fixture" .nix)
  golden="${fixture%.nix}.resolved.json"
  if ! evaluate "$fixture" >"$work/out.json" 2>"$work/err"; then
    fail "$name: evaluation failed" "$(cat "$work/err")"
    continue
  fi
  if $update; then
    bun -e 'process.stdout.write(JSON.stringify(JSON.parse(await Bun.stdin.text()), null, 2) + "\n")' \
      <"$work/out.json" >"$golden"
  fi
  problems=""
  if [ ! -f "$golden" ]; then
    problems="no $(basename "$golden") (run with --update to write it)"
  elif ! cmp -s <("$nixfleet" canonicalize <"$work/out.json") <("$nixfleet" canonicalize <"$golden"); then
    problems="resolved differs from $(basename "$golden"):"$'\n'"$(diff <(bun -e 'process.stdout.write(JSON.stringify(JSON.parse(await Bun.stdin.text()), null, 2) + "\n")' <"$work/out.json") "$golden" | head -n 40)"
  fi
  if ! "$nixfleet" fleet check "$work/out.json" >"$work/check" 2>&1; then
    problems+="${problems:+$'\n'}nixfleet fleet check refused it:"$'\n'"$(cat "$work/check")"
  fi
  want=$(expected warning "$fixture")
  got=$(grep -c 'evaluation warning: ' "$work/err" || true)
  while IFS= read -r w; do
    [ -z "$w" ] || grep -qF -- "$w" "$work/err" || problems+="${problems:+$'\n'}missing warning: $w"
  done <<<"$want"
  if [ "$got" -ne "$(grep -c . <<<"$want" || true)" ]; then
    problems+="${problems:+$'\n'}expected $(grep -c . <<<"$want" || true) warning(s), got $got:"$'\n'"$(cat "$work/err")"
  fi
  if [ -n "$problems" ]; then fail "$name" "$problems"; else passed=$((passed + 1)); echo "  ok    $name"; fi
done

echo "==> mkFleet negative fixtures"
for fixture in "$here"/negative/*.nix; do
  name=$(basename "$fixture" .nix)
  want=$(expected error "$fixture")
  if [ -z "$want" ]; then
    fail "$name: no '# error:' line in its header"
    continue
  fi
  if evaluate "$fixture" >/dev/null 2>"$work/err"; then
    fail "$name: evaluated, expected a refusal"
    continue
  fi
  problems=""
  while IFS= read -r w; do
    grep -qF -- "$w" "$work/err" || problems+="${problems:+$'\n'}missing: $w"
  done <<<"$want"
  if [ -n "$problems" ]; then
    fail "$name: refused, but not as expected" "$problems"$'\n'"message:"$'\n'"$(cat "$work/err")"
  else
    passed=$((passed + 1))
    echo "  ok    $name: $(grep -F -- "$(tail -n 1 <<<"$want")" "$work/err" | head -n 1 | sed 's/^ *//' | cut -c1-110)"
  fi
done

echo "==> the template's fleet, signed by $(basename "$nixfleet") release"
template="$here/fixtures/template.nix"
if [ -f "$template" ]; then
  if evaluate "$template" >"$work/fleet.json" 2>"$work/err" &&
    "$nixfleet" keygen --out "$work/ci" >/dev/null 2>&1 &&
    printf '{"cp":"/nix/store/%s-nixos-system-cp","web-01":"/nix/store/%s-nixos-system-web-01","web-02":"/nix/store/%s-nixos-system-web-02"}' \
      aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb cccccccccccccccccccccccccccccccc >"$work/closures.json" &&
    "$nixfleet" release --fleet "$work/fleet.json" --closures "$work/closures.json" --key "$work/ci.key" \
      --ci-commit 0123456789abcdef0123456789abcdef01234567 --release-dir "$work/releases" \
      --revocations <(echo '[]') --bootstrap-nonces <(echo '[]') >"$work/release.out" 2>&1; then
    passed=$((passed + 1))
    echo "  ok    release: $(head -n 1 "$work/release.out" | sed "s|$work/||g" | cut -c1-110)"
  else
    fail "template: nixfleet release refused the template's fleet" "$(cat "$work/err" "$work/release.out" 2>/dev/null)"
  fi
fi

echo "==> the template's CI workflow against $(basename "$nixfleet")'s options"
workflow="$here/../../../templates/default/.github/workflows/release.yml"
if [ -f "$workflow" ]; then
  # Each `run:` script goes to its own file; the release command's options are listed.
  if ! bun -e '
    const [file, dir] = process.argv.slice(1)
    const wf = Bun.YAML.parse(await Bun.file(file).text())
    if (!wf.on?.push || !wf.on?.schedule) throw new Error("release.yml: expected push and schedule triggers")
    const steps = Object.values(wf.jobs ?? {}).flatMap((j) => j.steps ?? [])
    const runs = steps.filter((s) => s.run).map((s) => s.run)
    runs.forEach((r, i) => Bun.write(`${dir}/step-${i}.sh`, r))
    const all = runs.join("\n")
    const release = /nixfleet -- release((?:[^\n]*\\\n)*[^\n]*)/.exec(all)
    if (!release) throw new Error("release.yml: no `nixfleet -- release` command")
    // …and the options it gets through `reuse=(…)`.
    const extra = [...all.matchAll(/reuse=\(([^)]*)\)/g)].map((m) => m[1]).join(" ")
    const options = [...`${release[1]} ${extra}`.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0])
    Bun.write(`${dir}/release-options`, [...new Set(options)].join("\n") + "\n")
    if (!runs.some((r) => /-X POST/.test(r) && /Authorization: Bearer /.test(r) && /\/v1\/webhook\/refresh/.test(r)))
      throw new Error("release.yml: no POST /v1/webhook/refresh with a bearer token")
  ' "$workflow" "$work" 2>"$work/err"; then
    fail "release.yml" "$(cat "$work/err")"
  else
    problems=""
    for script in "$work"/step-*.sh; do
      bash -n "$script" 2>>"$work/syntax" || problems+="${problems:+$'\n'}$(basename "$script"): $(cat "$work/syntax")"
    done
    "$nixfleet" release --help >"$work/help"
    while IFS= read -r option; do
      grep -qE -- "^  $option( |$)" "$work/help" || problems+="${problems:+$'\n'}nixfleet release has no option $option"
    done <"$work/release-options"
    if [ -n "$problems" ]; then
      fail "release.yml" "$problems"
    else
      passed=$((passed + 1))
      echo "  ok    release.yml: $(ls "$work"/step-*.sh | wc -l) scripts parse; release options $(tr '\n' ' ' <"$work/release-options")"
    fi
  fi
fi

echo "mkFleet: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
