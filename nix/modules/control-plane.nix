# `services.nixfleet.controlPlane`: the control plane. It verifies signed releases, decides which
# host gets which closure when, issues agent certificates from the fleet CA, and serves the
# agents and operators over mTLS.
#
# Unlike the agent it needs no privilege at all, so it runs as its own system user in a tight
# systemd sandbox. Every file it reads (TLS key, fleet CA key, token files) must be readable
# by that user: with agenix or sops-nix, set the secret's owner to `nixfleet-cp`.
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.services.nixfleet.controlPlane;
  trust = config.services.nixfleet.trust;
  argv = import ../lib/argv.nix;
  defaults = argv.controlPlaneDefaults;
  inherit (import ./types.nix lib)
    absPath
    extraArgsOption
    listenAddress
    logLevelOption
    packageOption
    ;

  user = "nixfleet-cp";
  renderTrust = cfg.trustFile == defaults.trustFile;
  port = lib.toInt (lib.last (lib.splitString ":" cfg.listen));
  host = lib.removeSuffix ":${toString port}" cfg.listen;
  loopback = builtins.elem host [
    "127.0.0.1"
    "[::1]"
    "localhost"
  ];
  # Binding below 1024 is the one privilege the CP may need.
  privilegedPort = port < 1024;
  inStateDir = p: p == null || lib.hasPrefix "${defaults.stateDir}/" p;

  db = cfg.database;
  postgres = builtins.match "postgres(ql)?://.*" db.url != null;
  # The SQLite file of a sqlite:///path URL (null for PostgreSQL and for sqlite::memory:).
  sqliteFile = if lib.hasPrefix "sqlite:///" db.url then lib.removePrefix "sqlite://" db.url else null;
  unit = "nixfleet-control-plane";
  # systemd copies the password into the unit's credentials directory, readable by the CP's user
  # only, so the file itself may stay root-only (as agenix and sops-nix write it).
  passwordCredential = "/run/credentials/${unit}.service/database-password";
  localPostgres = postgres && (config.services.postgresql.enable or false);

  commandLine = argv.controlPlane {
    inherit (cfg)
      listen
      trustFile
      agentCnSuffix
      agentCertValiditySecs
      auditLogPath
      freshnessWindowMinutes
      channelRefsSource
      rolloutsSource
      revocationsSource
      bootstrapNoncesSource
      rolloutsDir
      releaseDir
      webhookTokenFile
      closureUpstream
      closureCheckUrl
      strict
      logLevel
      metricsListen
      accessLog
      extraArgs
      ;
    databaseUrl = db.url;
    databasePasswordFile = if db.passwordFile == null then null else passwordCredential;
    tlsCert = cfg.tls.cert;
    tlsKey = cfg.tls.key;
    clientCa = cfg.tls.clientCa;
    fleetCaCert = cfg.fleetCa.cert;
    fleetCaKey = cfg.fleetCa.key;
    allowFileCaKey = cfg.fleetCa.allowFileKey;
  };

  sourceOptions = what: {
    artifactUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "https://git.example.org/fleet/raw/branch/main/releases/${what}.json";
      description = "URL of the signed ${what}.json; set together with `signatureUrl`.";
    };
    signatureUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "https://git.example.org/fleet/raw/branch/main/releases/${what}.json.sig";
      description = "URL of its detached signature; set together with `artifactUrl`.";
    };
    tokenFile = mkOption {
      type = types.nullOr absPath;
      default = null;
      example = "/run/secrets/nixfleet-forge-token";
      description =
        "File holding a bearer token for these URLs (re-read on every poll, so it can be rotated in place)."
        + lib.optionalString (what != "fleet.resolved") " Defaults to `channelRefsSource.tokenFile`.";
    };
  };

  # Each URL source as { name; a (artifact URL); s (signature URL); t (token file); and the
  # option names of a and s }, for the assertions below.
  urlSource = name: aName: sName: {
    inherit name aName sName;
    a = cfg.${name}.${aName};
    s = cfg.${name}.${sName};
    t = cfg.${name}.tokenFile;
  };
  urlSources =
    map (name: urlSource name "artifactUrl" "signatureUrl") [
      "channelRefsSource"
      "revocationsSource"
      "bootstrapNoncesSource"
    ]
    ++ [ (urlSource "rolloutsSource" "artifactUrlTemplate" "signatureUrlTemplate") ];
  pairAssertions = lib.concatMap (
    src:
    let
      at = "services.nixfleet.controlPlane.${src.name}";
      isUrl = u: u == null || builtins.match "https?://.+" u != null;
    in
    [
      {
        assertion = (src.a == null) == (src.s == null);
        message = "${at}.${src.aName} and ${at}.${src.sName} must be set together: an artifact is useless without its signature.";
      }
      {
        assertion = src.t == null || src.a != null;
        message = "${at}.tokenFile is set but ${at}.${src.aName} is not: the token is only sent to those URLs.";
      }
      {
        assertion = isUrl src.a && isUrl src.s;
        message = "${at}.${src.aName} and ${at}.${src.sName} must be http(s) URLs.";
      }
      {
        assertion = src.t == null || src.a == null || (lib.hasPrefix "https://" src.a && lib.hasPrefix "https://" src.s);
        message = "${at}: a bearer token (tokenFile) must not travel over plain http; use https:// URLs.";
      }
    ]
  ) urlSources;

  # The module's assertions. The unit is only rendered when they hold, so whatever evaluates it
  # first (a system build, or a tool reading the unit) gets these messages, not a stray error.
  checks = [
    {
      assertion = cfg.tls.cert != null && cfg.tls.key != null;
      message = "services.nixfleet.controlPlane.tls.cert and tls.key are required: the control plane only speaks TLS.";
    }
    {
      # The binary's rule: dot-separated DNS labels.
      assertion =
        cfg.agentCnSuffix != null
        && builtins.match "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*" cfg.agentCnSuffix != null;
      message = "services.nixfleet.controlPlane.agentCnSuffix is required and must be a DNS suffix such as agents.fleet.example.org (agent certificates are agent-<host>.<suffix>).";
    }
    {
      assertion = (cfg.fleetCa.cert == null) == (cfg.fleetCa.key == null);
      message = "services.nixfleet.controlPlane.fleetCa.cert and fleetCa.key must be set together.";
    }
    {
      assertion = cfg.releaseDir != null || cfg.channelRefsSource.artifactUrl != null;
      message = "services.nixfleet.controlPlane needs a release source: set releaseDir (a directory written by `nixfleet release`) or channelRefsSource.{artifactUrl,signatureUrl}.";
    }
    {
      assertion = lib.all (t: t == null || lib.hasInfix "{rolloutId}" t) [
        cfg.rolloutsSource.artifactUrlTemplate
        cfg.rolloutsSource.signatureUrlTemplate
      ];
      message = "services.nixfleet.controlPlane.rolloutsSource URL templates must contain the literal {rolloutId}.";
    }
    {
      assertion = !renderTrust || trust.configured;
      message = "services.nixfleet.controlPlane needs the fleet's trust roots: set services.nixfleet.trust.ciReleaseKey.current (and orgRootKey.current for bootstrap tokens), or point services.nixfleet.controlPlane.trustFile at a trust.json you provision.";
    }
    {
      assertion = cfg.tls.clientCa != null || cfg.fleetCa.cert != null;
      message = "services.nixfleet.controlPlane: set tls.clientCa (or fleetCa.cert, which then serves as the client CA): agents and operators authenticate with certificates from it.";
    }
    {
      assertion = postgres || lib.hasPrefix "sqlite:" db.url;
      message = "services.nixfleet.controlPlane.database.url must be sqlite:///absolute/path.db or postgres://user@host[:port]/dbname.";
    }
    {
      assertion = db.passwordFile == null || postgres;
      message = "services.nixfleet.controlPlane.database.passwordFile is only for a postgres:// database.url (SQLite has no password).";
    }
    {
      assertion = builtins.match "postgres(ql)?://[^/@]*:[^/@]*@.*" db.url == null;
      message = "services.nixfleet.controlPlane.database.url carries a password: put it in database.passwordFile instead (the URL is logged and visible in the unit).";
    }
    {
      assertion = cfg.agentCertValiditySecs == null || cfg.agentCertValiditySecs >= 60;
      message = "services.nixfleet.controlPlane.agentCertValiditySecs must be at least 60.";
    }
    {
      assertion = !cfg.strict || cfg.tls.clientCa != null;
      message = "services.nixfleet.controlPlane.strict requires tls.clientCa to be set explicitly.";
    }
    {
      assertion = !cfg.strict || (cfg.revocationsSource.artifactUrl != null && cfg.bootstrapNoncesSource.artifactUrl != null);
      message = "services.nixfleet.controlPlane.strict requires revocationsSource and bootstrapNoncesSource (signed revocations and bootstrap-token allow-list).";
    }
    {
      assertion = !cfg.strict || cfg.fleetCa.key == null || cfg.fleetCa.allowFileKey;
      message = "services.nixfleet.controlPlane.strict with a file-backed fleet CA key needs fleetCa.allowFileKey = true (an explicit acknowledgement that the CA key lives on this host).";
    }
  ]
  ++ pairAssertions;
  execStart = import ../lib/exec-start.nix { inherit lib utils; } cfg.package commandLine checks;
in
{
  imports = [ ./trust.nix ];

  options.services.nixfleet.controlPlane = {
    enable = lib.mkEnableOption "the NixFleet control plane";

    package = packageOption pkgs "controlPlane";

    listen = mkOption {
      type = listenAddress;
      default = defaults.listen;
      example = "[::]:8443";
      description = "HOST:PORT to serve agents and operators on (mTLS). A port below 1024 is granted CAP_NET_BIND_SERVICE and nothing else.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the `listen` port (TCP) in the firewall.";
    };

    tls = {
      cert = mkOption {
        type = types.nullOr absPath;
        default = null;
        example = "/run/secrets/nixfleet-cp-cert.pem";
        description = "The server's TLS certificate chain (PEM). Required.";
      };
      key = mkOption {
        type = types.nullOr absPath;
        default = null;
        example = "/run/secrets/nixfleet-cp-key.pem";
        description = "The server's TLS private key (PEM), readable by the `nixfleet-cp` user. Required.";
      };
      clientCa = mkOption {
        type = types.nullOr absPath;
        default = null;
        example = "/etc/nixfleet/cp/fleet-ca.pem";
        description = "CA that client certificates (agents, operators) must chain to. Null: `fleetCa.cert`. Required explicitly under `strict`.";
      };
    };

    trustFile = mkOption {
      type = absPath;
      default = defaults.trustFile;
      description = ''
        trust.json holding the CI release key and the org root key. At its default path it is
        rendered from `services.nixfleet.trust`; point it elsewhere to provision it yourself.
      '';
    };

    dbPath = mkOption {
      type = absPath;
      default = defaults.dbPath;
      description = "The SQLite database (WAL mode; its directory must be writable); `database.url` defaults to it.";
    };

    database = {
      url = mkOption {
        type = types.str;
        default = "sqlite://${cfg.dbPath}";
        defaultText = lib.literalExpression ''"sqlite://''${config.services.nixfleet.controlPlane.dbPath}"'';
        example = "postgres://nixfleet@db.fleet.example.org:5432/nixfleet?sslmode=verify-full";
        description = ''
          The state database: `sqlite:///absolute/path.db` (one control plane, the default) or
          `postgres://user@host[:port]/dbname[?sslmode=…]` (several control planes sharing one
          PostgreSQL; see "Control-plane replicas on PostgreSQL" in docs/nixos.md). Never put a
          password in the URL: use `passwordFile`. With `services.postgresql.enable` on this host,
          a postgres URL orders the unit after postgresql.service.
        '';
      };
      passwordFile = mkOption {
        type = types.nullOr absPath;
        default = null;
        example = "/run/secrets/nixfleet-cp-db-password";
        description = ''
          File holding the PostgreSQL password (postgres URLs only). It is handed to the unit with
          systemd's LoadCredential, so it may stay readable by root only.
        '';
      };
    };

    auditLogPath = mkOption {
      type = types.nullOr absPath;
      default = defaults.auditLogPath;
      description = "Append-only JSON-lines log of every certificate the CP issues; null turns it off.";
    };

    agentCnSuffix = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "agents.fleet.example.org";
      description = "Domain suffix of agent certificates: host `web-01` gets CN `agent-web-01.<suffix>`. Required.";
    };

    fleetCa = {
      cert = mkOption {
        type = types.nullOr absPath;
        default = null;
        example = "/etc/nixfleet/cp/fleet-ca.pem";
        description = "Certificate of the fleet CA that issues agent certificates (from `nixfleet ca init`).";
      };
      key = mkOption {
        type = types.nullOr absPath;
        default = null;
        example = "/run/secrets/nixfleet-fleet-ca-key.pem";
        description = "Private key of the fleet CA, readable by the `nixfleet-cp` user. Without it, enrollment and renewal are refused.";
      };
      allowFileKey = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Acknowledge that the fleet CA key is an ordinary file on the control plane; `strict`
          refuses to start with a file-backed CA key otherwise.
        '';
      };
    };

    agentCertValiditySecs = mkOption {
      type = types.nullOr types.ints.positive;
      default = null;
      example = 2592000;
      description = "Lifetime of issued agent certificates in seconds (at least 60). Null keeps the binary's default (30 days).";
    };

    freshnessWindowMinutes = mkOption {
      type = types.ints.positive;
      default = defaults.freshnessWindowMinutes;
      description = "Refuse releases signed longer ago than this (per-channel windows in the fleet can only shorten it).";
    };

    releaseDir = mkOption {
      type = types.nullOr absPath;
      default = null;
      example = "/var/lib/nixfleet-cp/releases";
      description = ''
        Directory holding a release as written by `nixfleet release` (fleet.resolved.json,
        rollouts/, revocations.json, bootstrap-nonces.json and their .sig files). Use this or
        `channelRefsSource`.
      '';
    };

    rolloutsDir = mkOption {
      type = types.nullOr absPath;
      default = null;
      example = "/var/lib/nixfleet-cp/releases/rollouts";
      description = "Directory of pre-signed rollout manifests (`<channel>@<commit>.json` and `.sig`).";
    };

    channelRefsSource = sourceOptions "fleet.resolved";
    revocationsSource = sourceOptions "revocations";
    bootstrapNoncesSource = sourceOptions "bootstrap-nonces";

    rolloutsSource = {
      artifactUrlTemplate = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://git.example.org/fleet/raw/branch/main/releases/rollouts/{rolloutId}.json";
        description = "URL of a rollout manifest, with the literal `{rolloutId}` in it; set together with `signatureUrlTemplate`.";
      };
      signatureUrlTemplate = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://git.example.org/fleet/raw/branch/main/releases/rollouts/{rolloutId}.json.sig";
        description = "URL of its signature, with the literal `{rolloutId}` in it.";
      };
      tokenFile = mkOption {
        type = types.nullOr absPath;
        default = null;
        description = "Bearer-token file for these URLs; defaults to `channelRefsSource.tokenFile`.";
      };
    };

    webhookTokenFile = mkOption {
      type = types.nullOr absPath;
      default = null;
      example = "/run/secrets/nixfleet-webhook-token";
      description = "File holding the bearer token CI presents to the release webhook (which makes the CP poll at once).";
    };

    strict = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Refuse to start without mTLS client verification (`tls.clientCa`) and without the
        revocations and bootstrap-nonce sources, and reject agent requests that lack the protocol
        header. Recommended for production.
      '';
    };

    closureUpstream = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "https://cache.example.org";
      description = "Binary cache that `/v1/agent/closure/<hash>` and `/v1/agent/closure/nar/<file>` proxy for agents (Nix on each host still checks signatures against its trusted keys). Also the cache checked before dispatch unless closureCheckUrl is set. Off when null.";
    };

    closureCheckUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "https://cache.example.org";
      description = "Binary cache (http(s) or file://) that must hold a target closure's narinfo before its hosts are dispatched; a missing one holds them with `closure … not in …; push it with nix copy`. Null: closureUpstream, and no check when that is null too.";
    };

    logLevel = logLevelOption "the control plane";

    metricsListen = mkOption {
      type = types.nullOr (types.strMatching "([0-9]{1,5}|(\\[[0-9A-Fa-f:]+]|[A-Za-z0-9.-]+):[0-9]{1,5})");
      default = null;
      example = "127.0.0.1:9102";
      description = ''
        Also serve `/metrics` over plain HTTP (no client certificate) on PORT or HOST:PORT, for a
        local Prometheus; a bare port listens on 127.0.0.1. Off when null: `/metrics` is then
        only on the mTLS listener, for operator and viewer certificates.
      '';
    };

    accessLog = mkOption {
      type = types.bool;
      default = false;
      description = "Log every request (method, route, status, duration, caller) at info.";
    };

    extraArgs = extraArgsOption "control-plane";
  };

  config = lib.mkIf cfg.enable {
    assertions = checks;

    warnings =
      lib.optional (!cfg.strict && !loopback)
        "services.nixfleet.controlPlane listens on ${cfg.listen} without strict = true; enable strict mode for a control plane reachable from the network.";

    environment.etc."nixfleet/cp/trust.json" = lib.mkIf renderTrust { source = trust.file; };

    users.users.${user} = {
      isSystemUser = true;
      group = user;
      home = defaults.stateDir;
      description = "NixFleet control plane";
    };
    users.groups.${user} = { };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ port ];

    systemd.services.nixfleet-control-plane = {
      description = "NixFleet control plane";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ] ++ lib.optional localPostgres "postgresql.service";
      after = [ "network-online.target" ] ++ lib.optional localPostgres "postgresql.service";
      # trust.json is re-read at run time, but the CP validates it at start; restart on change
      # so a broken trust root fails the switch loudly instead of at the next poll.
      restartTriggers = lib.optional renderTrust trust.file;
      startLimitIntervalSec = 0;
      serviceConfig = {
        Type = "simple";
        ExecStart = execStart;
        LoadCredential = lib.optional (db.passwordFile != null) "database-password:${db.passwordFile}";
        Restart = "always";
        RestartSec = 10;
        User = user;
        Group = user;
        StateDirectory = lib.removePrefix "/var/lib/" defaults.stateDir;
        StateDirectoryMode = "0700";
        WorkingDirectory = defaults.stateDir;
        UMask = "0077";
        # 10,000 agents hold a long-poll TLS connection each (DECISIONS §6).
        LimitNOFILE = 65536;
        # Each log line starts with its syslog priority (<3>..<7>); journald strips it and
        # records the priority, so `journalctl -p warning` filters (systemd's default, stated).
        SyslogLevelPrefix = true;

        # The sandbox. Writable: the state directory (StateDirectory=), the private /tmp (the CP
        # unpacks its embedded migrations there) and the directories of a database or audit log
        # placed elsewhere. Everything else is read-only or hidden.
        ReadWritePaths = lib.unique (
          map dirOf (lib.filter (p: !inStateDir p) [
            sqliteFile
            cfg.auditLogPath
          ])
        );
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        PrivateUsers = !privilegedPort; # a user namespace would void CAP_NET_BIND_SERVICE
        NoNewPrivileges = true;
        CapabilityBoundingSet = if privilegedPort then [ "CAP_NET_BIND_SERVICE" ] else [ "" ];
        AmbientCapabilities = lib.optional privilegedPort "CAP_NET_BIND_SERVICE";
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        ProtectProc = "invisible";
        # AF_UNIX reaches nscd and AF_NETLINK serves glibc's address check when the CP
        # resolves a forge's host name (both seen under strace); nothing else is needed.
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
          "AF_NETLINK"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        RemoveIPC = true;
        SystemCallArchitectures = "native";
        # Every call the CP made under strace (start, release adoption, mTLS requests, URL
        # polling, shutdown) is in @system-service and none is in @privileged.
        SystemCallFilter = [
          "@system-service"
          "~@privileged"
        ];
        # A filtered call fails with EPERM instead of killing the process outright.
        SystemCallErrorNumber = "EPERM";
        # MemoryDenyWriteExecute stays off: Bun's JavaScriptCore JIT maps writable+executable
        # memory (a 1 GiB PROT_WRITE|PROT_EXEC region at start, seen under strace).
      };
    };
  };
}
