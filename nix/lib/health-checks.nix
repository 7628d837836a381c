# `services.nixfleet.agent.healthChecks` → the health-checks.json the agent reads
# (`--health-checks-config`): one object keyed by probe name, each declaration tagged with its
# `kind`. Builtins only, like argv.nix.
healthChecks:
let
  common = p: {
    inherit (p) mode intervalSeconds;
  };
  http = name: p: common p // {
    kind = "http";
    inherit (p) url expectStatus;
    timeoutSecs = p.timeoutSeconds;
  };
  tcp = name: p: common p // {
    kind = "tcp";
    inherit (p) host port;
    connectTimeoutSecs = p.timeoutSeconds;
  };
  exec = name: p: common p // {
    kind = "exec";
    inherit (p) command;
    timeoutSecs = p.timeoutSeconds;
  };
in
builtins.mapAttrs http (healthChecks.http or { })
// builtins.mapAttrs tcp (healthChecks.tcp or { })
// builtins.mapAttrs exec (healthChecks.exec or { })
