# The ExecStart line of a NixFleet unit, guarded by the module's checks: when any check fails,
# evaluating the unit throws with every failed message, so a broken configuration never renders
# a half-valid command line (the NixOS assertions report the same messages first).
{ lib, utils }:
package: commandLine: checks:
let
  failed = map (c: c.message) (lib.filter (c: !c.assertion) checks);
in
if failed != [ ] then
  throw ("\nFailed assertions:\n" + lib.concatMapStrings (m: "- ${m}\n") failed)
else
  utils.escapeSystemdExecArgs ([ "${package}/bin/nixfleet" ] ++ commandLine)
