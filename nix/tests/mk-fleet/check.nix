# The mkFleet fixtures as a pure evaluation, for the flake's `checks` (nixpkgs' lib): every golden
# fixture's `resolved` equals its .resolved.json, every negative fixture fails. Messages and
# warnings are checked by run.sh (.ci/run), which can read Nix's error output.
{ lib }:
let
  names =
    dir:
    map (lib.removeSuffix ".nix") (
      builtins.filter (lib.hasSuffix ".nix") (builtins.attrNames (builtins.readDir dir))
    );
  eval = fixture: import ./eval.nix { inherit fixture lib; };
  golden =
    name:
    let
      actual = (eval (./fixtures + "/${name}.nix")).resolved;
      expected = builtins.fromJSON (builtins.readFile (./fixtures + "/${name}.resolved.json"));
    in
    if builtins.toJSON actual == builtins.toJSON expected then
      name
    else
      throw "mkFleet fixture ${name}: resolved differs from ${name}.resolved.json";
  negative =
    name:
    if (builtins.tryEval (eval (./negative + "/${name}.nix")).resolved).success then
      throw "mkFleet negative fixture ${name}: evaluated, expected a refusal"
    else
      name;
in
map golden (names ./fixtures) ++ map negative (names ./negative)
