# The part of nixpkgs' lib that nix/lib/mk-fleet.nix takes, for evaluating it where nixpkgs is
# not at hand (.ci/run). The real lib gives the same results: see nix/tests/mk-fleet/run.sh.
{
  # As nixpkgs' lib.warn: the builtin where Nix has one (2.23+), else a trace.
  warn = builtins.warn or (msg: v: builtins.trace "evaluation warning: ${msg}" v);
}
