# On an enforce channel (the default mode), a failed static control refuses the fleet.
# error: nixfleet invariant violations:
# error: host 'vault-1' (channel 'secure', enforce): static control 'sshHardening' failed - {
# error:   passwordAuthentication = true;
{ mkFleet, stub, ... }:
let
  host = channel: {
    system = "x86_64-linux";
    configuration = stub "h";
    inherit channel;
  };
  all = {
    strategy = "all-at-once";
    waves = [ { selector.all = true; } ];
  };
in
mkFleet {
  hosts.vault-1 = host "secure" // {
    configuration = stub "vault-1" // {
      config = (stub "vault-1").config // {
        compliance.evidence.probes.sshHardening = {
          type = "static";
          staticEvidence = {
            passed = false;
            evidence.passwordAuthentication = true;
          };
        };
      };
    };
  };
  channels.secure = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
}
