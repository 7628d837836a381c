# Sample configurations for the modules' command lines, checked against the binary itself.
#
# `script` is a bash script (run with `nixfleet=/path/to/nixfleet`) that creates sample files
# under `dir` with the binary's own ceremony commands, writes the trust.json and
# health-checks.json rendered by nix/lib, and runs `nixfleet agent|control-plane … --check-config`
# for every case: good samples must be accepted, bad ones refused with the expected message.
# Used by nix/ci.sh (.ci/run) and by the flake's `checks.<system>.check-config`.
# Builtins only: evaluated without nixpkgs.
{ dir }:
let
  argv = import ../lib/argv.nix;
  renderTrust = import ../lib/trust-json.nix;
  renderProbes = import ../lib/health-checks.nix;

  f = name: "${dir}/${name}";
  esc = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
  # The fleet CA is created at run time; its PEM is spliced into trust.json there.
  caPlaceholder = "@FLEET_CA_PEM@";

  emptySlot = {
    current = null;
    previous = null;
    successor = null;
    retireAt = null;
    rejectBefore = null;
  };
  # What `services.nixfleet.trust` holds after the module system applied its defaults.
  trust = {
    ciReleaseKey = emptySlot // {
      # RFC 8032 test vector 1 (any valid key will do: --check-config parses, it does not verify).
      current = {
        algorithm = "ed25519";
        public = "11qYAYKxCrfVS/7TyWQHOg7hcvPaoiMlrwIaaPcHURo=";
      };
      successor = {
        algorithm = "ed25519";
        public = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=";
      };
      retireAt = "2030-01-01T00:00:00Z";
    };
    orgRootKey = emptySlot // {
      current = {
        algorithm = "ed25519";
        public = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=";
      };
    };
    cacheKeys = [ "cache.example.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=" ];
    rootCaPem = caPlaceholder;
    issuanceCaPems = [ ];
  };

  # What `services.nixfleet.agent.healthChecks` holds after defaults.
  probe = timeoutSeconds: {
    mode = "enforce";
    intervalSeconds = 30;
    inherit timeoutSeconds;
  };
  healthChecks = {
    http.api = probe 5 // {
      url = "http://127.0.0.1:8080/healthz";
      expectStatus = 200;
    };
    tcp.postgres = probe 5 // {
      host = "127.0.0.1";
      port = 5432;
      mode = "observe";
    };
    exec.nginx = probe 10 // {
      command = [
        "/run/current-system/sw/bin/systemctl"
        "is-active"
        "nginx.service"
      ];
    };
  };
  badHealthChecks = {
    tcp.postgres = probe 5 // {
      host = "127.0.0.1";
      port = 0;
    };
  };

  # The agent module's values for a host, with every system path pointed into `dir`.
  agentBase = {
    controlPlaneUrls = [ "https://cp.fleet.example.org:8443" ];
    machineId = "web-01";
    trustFile = f "agent/trust.json";
    clientCert = f "agent/persist/agent-cert.pem";
    sshHostKeyFile = f "agent/ssh_host_ed25519_key.key";
    bootstrapTokenFile = f "agent/bootstrap-token";
    stateDir = f "agent/state";
    currentSystem = f "agent/current-system";
    systemProfile = f "agent/system-profile";
    nixStore = f "bin/nix-store";
    nixEnv = f "bin/nix-env";
    systemdRun = f "bin/systemd-run";
    flock = f "bin/flock";
  };

  cpBase = {
    inherit (argv.controlPlaneDefaults) listen freshnessWindowMinutes;
    tlsCert = f "ca/server.pem";
    tlsKey = f "ca/server.key";
    trustFile = f "cp/trust.json";
    databaseUrl = "sqlite://${f "cp/state/state.db"}";
    auditLogPath = f "cp/state/issuance.log";
    agentCnSuffix = "agents.fleet.example.org";
    fleetCaCert = f "ca/ca.pem";
    fleetCaKey = f "ca/ca.key";
    releaseDir = f "cp/releases";
  };
  git = "https://git.example.org/fleet/raw/branch/main/releases";
  urlSources = {
    channelRefsSource = {
      artifactUrl = "${git}/fleet.resolved.json";
      signatureUrl = "${git}/fleet.resolved.json.sig";
      tokenFile = f "cp/forge-token";
    };
    rolloutsSource = {
      artifactUrlTemplate = "${git}/rollouts/{rolloutId}.json";
      signatureUrlTemplate = "${git}/rollouts/{rolloutId}.json.sig";
      tokenFile = f "cp/forge-token";
    };
    revocationsSource = {
      artifactUrl = "${git}/revocations.json";
      signatureUrl = "${git}/revocations.json.sig";
      tokenFile = f "cp/forge-token";
    };
    bootstrapNoncesSource = {
      artifactUrl = "${git}/bootstrap-nonces.json";
      signatureUrl = "${git}/bootstrap-nonces.json.sig";
      tokenFile = f "cp/forge-token";
    };
  };

  # The "every option" samples must set every argument the functions take (nested source
  # attributes included), so every flag a module can emit meets the binary at least once.
  everything =
    fn: args:
    let
      unset = v: v == null || (builtins.isAttrs v && builtins.any unset (builtins.attrValues v));
      missing = builtins.filter (n: unset (args.${n} or null)) (builtins.attrNames (builtins.functionArgs fn));
    in
    if missing == [ ] then
      fn args
    else
      throw "nix/tests/samples.nix: the every-option sample leaves ${toString missing} unset";

  # expect: null = accepted; a string = refused, with that text in the message.
  cases = [
    {
      name = "agent: module defaults, first boot (enrolls with the token)";
      argv = argv.agent agentBase;
      expect = null;
    }
    {
      name = "agent: every option, three probes";
      argv = everything argv.agent (
        agentBase
        // {
          caCert = f "ca/ca.pem";
          healthChecksConfig = f "agent/health-checks.json";
          renewalThresholdFraction = 0.25;
          manifestFreshnessWindowSecs = 7200;
          metricsListen = "127.0.0.1:9464";
          closureProxyListen = "127.0.0.1:9465";
          prefetch = true;
          logLevel = "debug";
          extraArgs = [
            "--switch-timeout-secs"
            "600"
          ];
        }
      );
      expect = null;
    }
    {
      name = "agent: a closure proxy off loopback is refused";
      argv = argv.agent (agentBase // { closureProxyListen = "0.0.0.0:9465"; });
      expect = "--closure-proxy-listen must be a loopback";
    }
    {
      name = "agent: plain-http control plane is refused";
      argv = argv.agent (agentBase // { controlPlaneUrls = [ "http://cp.fleet.example.org:8080" ]; });
      expect = "--control-plane-url must use https";
    }
    {
      name = "agent: two control planes";
      argv = argv.agent (
        agentBase
        // {
          controlPlaneUrls = [
            "https://cp-a.fleet.example.org:8443"
            "https://cp-b.fleet.example.org:8443"
          ];
        }
      );
      expect = null;
    }
    {
      name = "agent: a plain-http second control plane is refused, by name";
      argv = argv.agent (
        agentBase
        // {
          controlPlaneUrls = [
            "https://cp-a.fleet.example.org:8443"
            "http://cp-b.fleet.example.org:8080"
          ];
        }
      );
      expect = "--control-plane-url (http://cp-b.fleet.example.org:8080) must use https";
    }
    {
      name = "agent: renewal fraction out of range is refused";
      argv = argv.agent (agentBase // { renewalThresholdFraction = 1.5; });
      expect = "--renewal-threshold-fraction must be";
    }
    {
      name = "agent: no certificate and no bootstrap token is refused";
      argv = argv.agent (agentBase // { bootstrapTokenFile = null; });
      expect = "no --bootstrap-token-file";
    }
    {
      name = "agent: a bootstrap token minted for another host is refused";
      argv = argv.agent (agentBase // { machineId = "web-02"; });
      expect = "is for host web-01, not web-02";
    }
    {
      name = "agent: an invalid probe declaration is refused";
      argv = argv.agent (agentBase // { healthChecksConfig = f "agent/bad-health-checks.json"; });
      expect = "bad-health-checks.json";
    }
    {
      name = "control-plane: release directory";
      argv = argv.controlPlane cpBase;
      expect = null;
    }
    {
      name = "control-plane: every option (URL sources and a release directory, strict)";
      argv = everything argv.controlPlane (
        cpBase
        // urlSources
        // {
          listen = "[::1]:8443";
          # Checked, not connected to: --check-config opens no database.
          databaseUrl = "postgres://nixfleet@db.fleet.example.org:5432/nixfleet?sslmode=verify-full";
          databasePasswordFile = f "cp/db-password";
          clientCa = f "ca/ca.pem";
          allowFileCaKey = true;
          strict = true;
          agentCertValiditySecs = 604800;
          rolloutsDir = f "cp/rollouts";
          webhookTokenFile = f "cp/webhook-token";
          closureUpstream = "https://cache.example.org";
          closureCheckUrl = "file:///var/cache/nix-binary-cache";
          logLevel = "warn";
          metricsListen = "127.0.0.1:9102";
          accessLog = true;
          extraArgs = [
            "--plan-interval-secs"
            "10"
          ];
        }
      );
      expect = null;
    }
    {
      name = "control-plane: half a URL pair is refused";
      argv = argv.controlPlane (
        cpBase
        // {
          revocationsSource = urlSources.revocationsSource // { signatureUrl = null; };
        }
      );
      expect = "must be given together";
    }
    {
      name = "control-plane: strict without revocations is refused";
      argv = argv.controlPlane (
        cpBase
        // {
          clientCa = f "ca/ca.pem";
          allowFileCaKey = true;
          strict = true;
        }
      );
      expect = "--strict requires --revocations";
    }
    {
      name = "control-plane: a password in the database URL is refused";
      argv = argv.controlPlane (cpBase // { databaseUrl = "postgres://nixfleet:pw@db/nixfleet"; });
      expect = "put the password in --database-password-file";
    }
    {
      name = "control-plane: a database password file for SQLite is refused";
      argv = argv.controlPlane (cpBase // { databasePasswordFile = f "cp/db-password"; });
      expect = "--database-password-file is only for a postgres://";
    }
    {
      name = "control-plane: a world-readable database password file is refused";
      argv = argv.controlPlane (
        cpBase
        // {
          databaseUrl = "postgres://nixfleet@db/nixfleet";
          databasePasswordFile = f "cp/db-password-open";
        }
      );
      expect = "readable by every user";
    }
    {
      name = "control-plane: a bare metrics port listens on loopback";
      argv = argv.controlPlane (cpBase // { metricsListen = "9102"; });
      expect = null;
    }
    {
      name = "control-plane: a malformed metrics address is refused";
      argv = argv.controlPlane (cpBase // { metricsListen = "localhost"; });
      expect = "--metrics-listen must be PORT or HOST:PORT";
    }
    {
      name = "control-plane: a malformed listen address is refused";
      argv = argv.controlPlane (cpBase // { listen = "8443"; });
      expect = "--listen must be HOST:PORT";
    }
  ];

  runCase = c: "check ${esc c.name} ${esc (if c.expect == null then "" else c.expect)} ${toString (map esc c.argv)}\n";
in
{
  inherit cases;

  script = ''
    # Generated by nix/tests/samples.nix.
    set -euo pipefail
    : "''${nixfleet:?set nixfleet to the path of the nixfleet binary}"
    dir=${esc dir}
    mkdir -p "$dir"/{agent/state,agent/persist,cp/state,cp/releases,cp/rollouts,bin}

    # Sample material, made with the binary's own ceremony commands.
    "$nixfleet" ca init --out "$dir/ca" --server-name cp.fleet.example.org 2>/dev/null
    host_pub=$("$nixfleet" keygen --out "$dir/agent/ssh_host_ed25519_key" --ssh 2>/dev/null | grep '^ssh-ed25519 ')
    # A token for this host and key: the agent checks both offline (the signature is the CP's).
    "$nixfleet" keygen --out "$dir/org-root" >/dev/null 2>&1
    "$nixfleet" mint-token --hostname web-01 --pubkey "$host_pub" --org-root-key "$dir/org-root.key" \
      --out "$dir/agent/bootstrap-token" >/dev/null
    echo sample-forge-token >"$dir/cp/forge-token"
    echo sample-webhook-token >"$dir/cp/webhook-token"
    (umask 077 && echo sample-db-password >"$dir/cp/db-password")
    echo sample-db-password >"$dir/cp/db-password-open" && chmod 644 "$dir/cp/db-password-open"
    for tool in nix-store nix-env systemd-run flock; do
      printf '#!/bin/sh\nexit 0\n' >"$dir/bin/$tool" && chmod +x "$dir/bin/$tool"
    done
    mkdir -p "$dir/agent/closure" && ln -sfn "$dir/agent/closure" "$dir/agent/current-system"

    # trust.json and health-checks.json exactly as the modules render them.
    trust=${esc (builtins.toJSON (renderTrust trust))}
    pem=$(awk '{ printf "%s\\n", $0 }' "$dir/ca/ca.pem")
    trust=''${trust//${caPlaceholder}/$pem}
    printf '%s\n' "$trust" >"$dir/agent/trust.json"
    printf '%s\n' "$trust" >"$dir/cp/trust.json"
    printf '%s\n' ${esc (builtins.toJSON (renderProbes healthChecks))} >"$dir/agent/health-checks.json"
    printf '%s\n' ${esc (builtins.toJSON (renderProbes badHealthChecks))} >"$dir/agent/bad-health-checks.json"

    passed=0 failed=0
    check() {
      local name=$1 expect=$2 out status
      shift 2
      set +e
      out=$("$nixfleet" "$@" --check-config 2>&1)
      status=$?
      set -e
      if [ -z "$expect" ] && [ "$status" -eq 0 ]; then
        passed=$((passed + 1)); echo "  ok    $name: $(tail -n 1 <<<"$out")"
      elif [ -n "$expect" ] && [ "$status" -ne 0 ] && grep -qF -- "$expect" <<<"$out"; then
        passed=$((passed + 1)); echo "  ok    $name: $(tail -n 1 <<<"$out")"
      else
        failed=$((failed + 1)); echo "  FAIL  $name (exit $status, expected ''${expect:-success})"
        printf '        nixfleet'; printf ' %q' "$@"; printf ' --check-config\n'
        sed 's/^/        /' <<<"$out"
      fi
    }

    ${builtins.concatStringsSep "" (map runCase cases)}
    echo "$passed check-config samples passed, $failed failed"
    [ "$failed" -eq 0 ]
  '';
}
