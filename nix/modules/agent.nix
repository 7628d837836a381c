# `services.nixfleet.agent`: the per-host agent. It enrolls with the control plane, pulls its
# target closure over mTLS, switches the system, runs the declared health probes, and rolls
# back on failure.
#
# It runs as root without a sandbox on purpose: it does what `nixos-rebuild switch` does
# (realise a closure, set the system profile, run switch-to-configuration), which touches
# /boot, /etc and every unit. Confining it would only make it fail in the middle of a switch.
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.services.nixfleet.agent;
  trust = config.services.nixfleet.trust;
  argv = import ../lib/argv.nix;
  defaults = argv.agentDefaults;
  inherit (import ./types.nix lib)
    absPath
    extraArgsOption
    logLevelOption
    packageOption
    ;

  probes = import ../lib/health-checks.nix cfg.healthChecks;
  probeNames = lib.concatMap builtins.attrNames [
    cfg.healthChecks.http
    cfg.healthChecks.tcp
    cfg.healthChecks.exec
  ];
  hasProbes = probeNames != [ ];
  healthChecksFile = pkgs.writeText "nixfleet-health-checks.json" (builtins.toJSON probes);
  renderTrust = cfg.trustFile == defaults.trustFile;

  # Where this host's Nix fetches closures: the agent's loopback proxy to the CP's closure
  # proxy, else the fleet's cache directly, else (neither set) whatever the host configures.
  proxyListen = "127.0.0.1:${toString cfg.closureProxy.port}";
  substituter =
    if cfg.closureProxy.enable then "http://${proxyListen}" else trust.cacheUrl;

  # What the agent runs to switch: the nix and systemd of this system, not whatever is on $PATH.
  nix = config.nix.package;
  systemd = config.systemd.package;

  commandLine = argv.agent {
    inherit (cfg)
      controlPlaneUrls
      machineId
      trustFile
      caCert
      clientCert
      sshHostKeyFile
      bootstrapTokenFile
      stateDir
      renewalThresholdFraction
      manifestFreshnessWindowSecs
      metricsListen
      logLevel
      extraArgs
      prefetch
      ;
    closureProxyListen = if cfg.closureProxy.enable then proxyListen else null;
    healthChecksConfig = if hasProbes then defaults.healthChecksConfig else null;
    inherit (defaults) currentSystem systemProfile;
    nixStore = "${nix}/bin/nix-store";
    nixEnv = "${nix}/bin/nix-env";
    systemdRun = "${systemd}/bin/systemd-run";
    # The agent checks the switch lock with flock before it starts a switch of its own.
    flock = "${pkgs.util-linux}/bin/flock";
  };

  probeOptions = timeout: {
    mode = mkOption {
      type = types.enum [
        "enforce"
        "observe"
        "disabled"
      ];
      default = "enforce";
      description = "`enforce`: must pass before the host counts as converged, and a sustained failure rolls it back. `observe`: reported only.";
    };
    intervalSeconds = mkOption {
      type = types.ints.between 5 86400;
      default = 30;
      description = "Seconds between runs (at least 5).";
    };
    timeoutSeconds = mkOption {
      type = types.ints.positive;
      default = timeout;
      description = "Seconds before a run counts as failed.";
    };
  };

  # The module's assertions. The unit is only rendered when they hold, so whatever evaluates it
  # first (a system build, or a tool reading the unit) gets these messages, not a stray error.
  checks = [
    {
      assertion = cfg.controlPlaneUrls != [ ];
      message = "services.nixfleet.agent needs a control plane: set services.nixfleet.agent.controlPlaneUrl, or controlPlaneUrls for several.";
    }
    {
      assertion = cfg.controlPlaneUrl == null || builtins.elem cfg.controlPlaneUrl cfg.controlPlaneUrls;
      message = "services.nixfleet.agent.controlPlaneUrl ('${toString cfg.controlPlaneUrl}') is not among controlPlaneUrls: set only controlPlaneUrls when there are several.";
    }
  ]
  ++ map (url: {
    assertion = lib.hasPrefix "https://" url;
    message = "services.nixfleet.agent.${
      if cfg.controlPlaneUrl == url then "controlPlaneUrl" else "controlPlaneUrls"
    } must start with https:// (got '${url}'): the agent authenticates to the control plane with a client certificate over TLS.";
  }) cfg.controlPlaneUrls
  ++ [
    {
      # The binary's fleet-hostname rule (src/proto/ids.ts).
      assertion = builtins.match "[A-Za-z0-9][A-Za-z0-9._-]*" cfg.machineId != null && builtins.stringLength cfg.machineId <= 253;
      message = "services.nixfleet.agent.machineId ('${cfg.machineId}') must be a fleet host name (letters, digits, '.', '_' and '-'); set networking.hostName or machineId.";
    }
    {
      assertion = !renderTrust || trust.configured;
      message = "services.nixfleet.agent needs the fleet's trust roots: set services.nixfleet.trust.ciReleaseKey.current (the public key from `nixfleet keygen`), or point services.nixfleet.agent.trustFile at a trust.json you provision.";
    }
    {
      assertion = cfg.caCert != null || !renderTrust || trust.rootCaPem != null || trust.issuanceCaPems != [ ];
      message = "services.nixfleet.agent cannot authenticate the control plane: set services.nixfleet.trust.rootCaPem (the fleet CA certificate, e.g. builtins.readFile ./fleet-ca.pem) or services.nixfleet.agent.caCert.";
    }
    {
      assertion = cfg.clientKey == null || cfg.clientKey == cfg.sshHostKeyFile;
      message = "services.nixfleet.agent.clientKey ('${toString cfg.clientKey}') and sshHostKeyFile ('${cfg.sshHostKeyFile}') name different keys: the agent has one key, the SSH host key, which signs its certificate request. Set only sshHostKeyFile.";
    }
    {
      assertion =
        cfg.renewalThresholdFraction == null
        || (cfg.renewalThresholdFraction >= 0 && cfg.renewalThresholdFraction < 1);
      message = "services.nixfleet.agent.renewalThresholdFraction must be at least 0 and below 1 (e.g. 0.5 renews at half the certificate's lifetime).";
    }
    {
      assertion = (trust.cacheKeys == [ ]) == (substituter == null);
      message =
        if trust.cacheKeys == [ ] then
          "services.nixfleet.agent: ${if cfg.closureProxy.enable then "closureProxy.enable" else "services.nixfleet.trust.cacheUrl"} is set but services.nixfleet.trust.cacheKeys is empty: Nix would refuse every closure from that cache. Add the cache's public key (`nix key convert-secret-to-public`, or the cache's documented key)."
        else
          "services.nixfleet.trust.cacheKeys is set but no cache is: set services.nixfleet.trust.cacheUrl (the cache CI pushes to) or services.nixfleet.agent.closureProxy.enable, or the keys would change nothing on this host.";
    }
    {
      assertion = lib.all (n: builtins.match "[A-Za-z0-9][A-Za-z0-9._:-]{0,127}" n != null) probeNames;
      message = "services.nixfleet.agent.healthChecks: probe names may use letters, digits, '.', '_', ':' and '-' and must start with a letter or digit (got: ${lib.concatStringsSep ", " probeNames}).";
    }
    {
      assertion = lib.length probeNames == lib.length (lib.unique probeNames);
      message = "services.nixfleet.agent.healthChecks: probe names must be unique across http, tcp and exec (duplicates: ${
        lib.concatStringsSep ", " (lib.unique (lib.filter (n: lib.count (m: m == n) probeNames > 1) probeNames))
      }).";
    }
  ];
  execStart = import ../lib/exec-start.nix { inherit lib utils; } cfg.package commandLine checks;
in
{
  imports = [ ./trust.nix ];

  options.services.nixfleet.agent = {
    enable = lib.mkEnableOption "the NixFleet agent, which lets the control plane roll out new system closures to this host";

    package = packageOption pkgs "agent";

    controlPlaneUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "https://cp.fleet.example.org:8443";
      description = "Base URL of the control plane; https only (the agent authenticates with its client certificate). With several control planes, use `controlPlaneUrls`.";
    };

    controlPlaneUrls = mkOption {
      type = types.listOf types.str;
      default = lib.optional (cfg.controlPlaneUrl != null) cfg.controlPlaneUrl;
      defaultText = lib.literalExpression "lib.optional (controlPlaneUrl != null) controlPlaneUrl";
      example = [
        "https://cp-a.fleet.example.org:8443"
        "https://cp-b.fleet.example.org:8443"
      ];
      description = ''
        Base URLs of the control-plane replicas, in order of preference; https only, at least one.
        The agent sticks to the one that answers and moves to the next on a connection failure, a
        timeout or 502/503/504, with exponential backoff and jitter (1 s doubling up to 30 s);
        queued events are kept and delivered to whichever answers. A name with several addresses
        is tried address by address (TLS still checks the name).
      '';
    };

    machineId = mkOption {
      type = types.str;
      default = config.networking.hostName;
      defaultText = lib.literalExpression "config.networking.hostName";
      example = "web-01";
      description = ''
        This host's name in the fleet (the hosts of fleet.resolved.json). The control plane issues
        the certificate `agent-<machineId>.<agentCnSuffix>` to it.
      '';
    };

    trustFile = mkOption {
      type = absPath;
      default = defaults.trustFile;
      description = ''
        trust.json holding the CI release key that signs releases. At its default path it is
        rendered from `services.nixfleet.trust`; point it elsewhere to provision it yourself.
      '';
    };

    caCert = mkOption {
      type = types.nullOr absPath;
      default = null;
      example = "/etc/nixfleet/agent/cp-ca.pem";
      description = "CA bundle (PEM) the control plane's TLS certificate must chain to. Null: the fleet CAs of trust.json (`rootCaPem`, `issuanceCaPems`).";
    };

    clientCert = mkOption {
      type = absPath;
      default = defaults.clientCert;
      description = ''
        Where the agent keeps the client certificate the control plane issues. The agent writes it
        on enrollment and renewal, so it must be persistent and writable (not tmpfs); on an
        impermanent root, persist its directory.
      '';
    };

    clientKey = mkOption {
      type = types.nullOr absPath;
      default = null;
      description = "Older name of `sshHostKeyFile`: when set, `sshHostKeyFile` defaults to it, and the two must be equal.";
    };

    sshHostKeyFile = mkOption {
      type = absPath;
      default = if cfg.clientKey != null then cfg.clientKey else defaults.sshHostKeyFile;
      defaultText = lib.literalExpression ''if clientKey != null then clientKey else "${defaults.sshHostKeyFile}"'';
      description = ''
        The host's SSH ed25519 key, the agent's only key: the TLS client key, the key that signs the
        certificate request at enrolment (the bootstrap token names its fingerprint), and the key
        whose public half checks the signature of compliance evidence files.
      '';
    };

    bootstrapTokenFile = mkOption {
      type = types.nullOr absPath;
      default = null;
      example = "/run/secrets/nixfleet-bootstrap-token";
      description = ''
        Single-use bootstrap token (from `nixfleet mint-token`) for the first enrollment; read only
        while there is no client certificate. Deliver it with your secrets tool, readable by root.
      '';
    };

    stateDir = mkOption {
      type = absPath;
      default = defaults.stateDir;
      description = "The agent's state: anti-rollback marks, the outbox of unsent events, cached artifacts.";
    };

    healthChecks = {
      http = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = probeOptions 5 // {
              url = mkOption {
                type = types.str;
                example = "http://127.0.0.1:8080/healthz";
                description = "URL fetched with GET.";
              };
              expectStatus = mkOption {
                type = types.ints.between 100 599;
                default = 200;
                description = "The status that counts as a pass.";
              };
            };
          }
        );
        default = { };
        example = lib.literalExpression ''{ api.url = "http://127.0.0.1:8080/healthz"; }'';
        description = "HTTP probes, by name.";
      };

      tcp = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = probeOptions 5 // {
              host = mkOption {
                type = types.str;
                default = "127.0.0.1";
                description = "Host to connect to.";
              };
              port = mkOption {
                type = types.port;
                description = "Port to connect to; a completed connection is a pass.";
              };
            };
          }
        );
        default = { };
        example = lib.literalExpression "{ postgres.port = 5432; }";
        description = "TCP connect probes, by name.";
      };

      exec = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = probeOptions 10 // {
              command = mkOption {
                type = types.nonEmptyListOf types.str;
                example = lib.literalExpression ''[ "''${pkgs.systemd}/bin/systemctl" "is-active" "nginx.service" ]'';
                description = "Command and arguments (no shell); exit status 0 is a pass. Runs as root.";
              };
            };
          }
        );
        default = { };
        description = "Command probes, by name.";
      };
    };

    renewalThresholdFraction = mkOption {
      type = types.nullOr types.float;
      default = null;
      example = 0.5;
      description = "Renew the client certificate when less than this fraction of its lifetime is left (0 ≤ f < 1; 0 never renews). Null keeps the agent's default, 0.5.";
    };

    manifestFreshnessWindowSecs = mkOption {
      type = types.nullOr types.ints.positive;
      default = null;
      example = 3600;
      description = "Tighten the freshness window: refuse rollout manifests signed longer ago than this many seconds even when their channel's signed freshnessWindow is longer. Null (the default) follows each channel's freshnessWindow; this can only tighten it.";
    };

    metricsListen = mkOption {
      type = types.nullOr (types.strMatching "(\\[[0-9A-Fa-f:]+]|[A-Za-z0-9.-]+):[0-9]{1,5}");
      default = null;
      example = "127.0.0.1:9464";
      description = "Serve Prometheus metrics on this HOST:PORT. Off when null.";
    };

    closureProxy = {
      enable = lib.mkEnableOption ''
        fetching closures through the control plane: the agent serves a loopback binary cache
        that forwards narinfo and NAR requests over its mTLS connection to the CP's closure proxy
        (`services.nixfleet.controlPlane.closureUpstream`), and Nix uses it as substituter. For
        hosts with no route to the cache. Nix still checks signatures against
        `services.nixfleet.trust.cacheKeys`: the proxy widens reach, never trust'';
      port = mkOption {
        type = types.port;
        default = 9465;
        description = "Loopback port of the agent's local binary cache (127.0.0.1 only).";
      };
    };

    prefetch = lib.mkEnableOption ''
        pre-fetch: as soon as the signed manifest of this host's channel names a new target
        closure, realise it in the background (`nix-store --realise`, no switch) at the lowest
        CPU and I/O priority, one at a time, so the switch is short when the host's wave opens and
        a cache outage after publication does not stall the rollout. The host view shows
        `prefetched`'';

    logLevel = logLevelOption "the agent";

    extraArgs = extraArgsOption "agent";
  };

  config = lib.mkIf cfg.enable {
    assertions = checks;

    # The fleet's cache (or the proxy to it) before the defaults; its keys trusted for it.
    nix.settings = lib.mkIf (substituter != null) {
      substituters = [ substituter ];
      trusted-public-keys = trust.cacheKeys;
    };

    environment.etc = {
      "nixfleet/agent/trust.json" = lib.mkIf renderTrust { source = trust.file; };
      "nixfleet/agent/health-checks.json" = lib.mkIf hasProbes { source = healthChecksFile; };
    };

    # The certificate's directory must exist (and survive reboots) before the first enrollment;
    # a state directory outside /var/lib is not StateDirectory= material, so create it here.
    systemd.tmpfiles.rules = [
      "d ${dirOf cfg.clientCert} 0755 root root - -"
    ]
    ++ lib.optional (!lib.hasPrefix "/var/lib/" cfg.stateDir) "d ${cfg.stateDir} 0700 root root - -";

    systemd.services.nixfleet-agent = {
      description = "NixFleet agent";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [
        "network-online.target"
        "nix-daemon.service"
      ];
      # The files it reads. Key rotations in trust.json are picked up live, but its CA
      # certificates (the TLS trust for the CP) are loaded at start; probes are re-read per
      # rollout. Restarting on a change makes every edit take effect at once.
      restartTriggers = lib.optional renderTrust trust.file ++ lib.optional hasProbes healthChecksFile;
      # Restart after the switch instead of stopping before it: the switch runs in its own
      # transient unit (systemd-run), and the agent should be down as briefly as possible.
      stopIfChanged = false;
      # Never give up: an unattended host must come back to the fleet without an operator.
      startLimitIntervalSec = 0;
      # For what the agent spawns: nix and systemd of this system, then the running system's
      # own tools, so exec probes may name commands (systemctl, curl) without a store path.
      path = [
        nix
        systemd
        "/run/current-system/sw"
      ];
      environment = {
        # nix-store keeps its narinfo cache here; root has no $HOME in a unit.
        XDG_CACHE_HOME = "${cfg.stateDir}/cache";
      };
      serviceConfig = {
        Type = "simple";
        ExecStart = execStart;
        Restart = "always";
        RestartSec = 30;
        StateDirectory = lib.mkIf (lib.hasPrefix "/var/lib/" cfg.stateDir) (lib.removePrefix "/var/lib/" cfg.stateDir);
        StateDirectoryMode = "0700";
        # Root, no sandbox (see the top of this file); this only stops privilege gains by exec.
        NoNewPrivileges = true;
        # Each log line starts with its syslog priority (<3>..<7>); journald strips it and
        # records the priority, so `journalctl -p warning` filters (systemd's default, stated).
        SyslogLevelPrefix = true;
      };
    };
  };
}
