# Option values → the daemons' command lines, as pure functions.
#
# Builtins only (no nixpkgs `lib`): .ci/run evaluates these with a bare Nix for the sample
# configurations of nix/tests/samples.nix and runs the results through
# `nixfleet agent --check-config` and `nixfleet control-plane --check-config`, so the modules
# and the binary cannot drift apart unnoticed. The modules build ExecStart with the same
# functions and take their path defaults from `agentDefaults` / `controlPlaneDefaults`.
#
# Each function takes the values by name (a misspelled or missing one is an evaluation error)
# and returns the argv after the executable: [ "agent" "--flag" "value" … ].
let
  # `--flag value` when the value is set, nothing otherwise.
  opt = flag: value: if value == null then [ ] else [ flag (toStr value) ];
  # Floats through toJSON: toString 0.5 is "0.500000".
  toStr = v: if builtins.isFloat v then builtins.toJSON v else toString v;
  flagIf = cond: flag: if cond then [ flag ] else [ ];
  # A value the daemon cannot start without. The modules assert these with a fuller message;
  # this only keeps an evaluation that reaches the unit first from failing obscurely.
  req = flag: value: if value == null then throw "nixfleet: ${flag} needs a value (see the module's assertions)" else value;

  # A signed-artifact source: the URL pair and its bearer-token file. Each half is passed as
  # set (the module asserts the pair is complete, and so does the binary); the token goes only
  # with URLs, since on its own it means nothing.
  source =
    flags: artifact: signature: token:
    opt flags.artifact artifact
    ++ opt flags.signature signature
    ++ (if artifact == null && signature == null then [ ] else opt flags.token token);
  pairFlags = prefix: {
    artifact = "--${prefix}-artifact-url";
    signature = "--${prefix}-signature-url";
    token = "--${prefix}-token-file";
  };
in
rec {
  # Paths an operator rarely changes; the modules use them as option defaults.
  agentDefaults = {
    trustFile = "/etc/nixfleet/agent/trust.json";
    # The agent writes its certificate here on enrollment and renewal, so it must be
    # persistent and writable. Kept outside stateDir on purpose: wiping the state directory
    # (anti-rollback marks, outbox) must not also throw away the host's identity.
    clientCert = "/var/lib/nixfleet/agent-cert.pem";
    # The agent's one key is the host's SSH key (no new secret to manage): the TLS client key,
    # the key that signs the certificate request, and the key compliance evidence is checked
    # against.
    sshHostKeyFile = "/etc/ssh/ssh_host_ed25519_key";
    stateDir = "/var/lib/nixfleet-agent";
    healthChecksConfig = "/etc/nixfleet/agent/health-checks.json";
    currentSystem = "/run/current-system";
    systemProfile = "/nix/var/nix/profiles/system";
  };

  controlPlaneDefaults = {
    listen = "0.0.0.0:8080";
    trustFile = "/etc/nixfleet/cp/trust.json";
    stateDir = "/var/lib/nixfleet-cp";
    dbPath = "/var/lib/nixfleet-cp/state.db";
    auditLogPath = "/var/lib/nixfleet-cp/issuance.log";
    # 30 days: the reference's default (its binary's --freshness-window-secs 2592000).
    freshnessWindowMinutes = 43200;
  };

  agent =
    {
      # One or more; the agent sticks to the one that answers, in this order of preference.
      controlPlaneUrls,
      machineId,
      trustFile,
      caCert ? null,
      clientCert,
      sshHostKeyFile,
      bootstrapTokenFile ? null,
      stateDir,
      healthChecksConfig ? null,
      renewalThresholdFraction ? null,
      manifestFreshnessWindowSecs ? null,
      metricsListen ? null,
      closureProxyListen ? null,
      prefetch ? false,
      logLevel ? null,
      currentSystem,
      systemProfile,
      nixStore,
      nixEnv,
      systemdRun,
      flock,
      extraArgs ? [ ],
    }:
    [ "agent" ]
    ++ builtins.concatMap (url: [
      "--control-plane-url"
      url
    ]) controlPlaneUrls
    ++ [
      "--machine-id"
      machineId
      "--trust-file"
      trustFile
    ]
    ++ opt "--ca-cert" caCert
    ++ [
      "--client-cert"
      clientCert
    ]
    ++ opt "--bootstrap-token-file" bootstrapTokenFile
    ++ [
      "--state-dir"
      stateDir
      "--ssh-host-key-file"
      sshHostKeyFile
    ]
    ++ opt "--health-checks-config" healthChecksConfig
    ++ opt "--renewal-threshold-fraction" renewalThresholdFraction
    ++ opt "--manifest-freshness-window-secs" manifestFreshnessWindowSecs
    ++ opt "--metrics-listen" metricsListen
    ++ opt "--closure-proxy-listen" closureProxyListen
    ++ flagIf prefetch "--prefetch"
    ++ opt "--log-level" logLevel
    # Explicit paths rather than $PATH lookups: the unit's environment is not the operator's.
    ++ [
      "--current-system"
      currentSystem
      "--system-profile"
      systemProfile
      "--nix-store"
      nixStore
      "--nix-env"
      nixEnv
      "--systemd-run"
      systemdRun
      "--flock"
      flock
    ]
    ++ extraArgs;

  controlPlane =
    {
      listen,
      tlsCert,
      tlsKey,
      clientCa ? null,
      trustFile,
      databaseUrl,
      databasePasswordFile ? null,
      agentCnSuffix,
      fleetCaCert ? null,
      fleetCaKey ? null,
      allowFileCaKey ? false,
      agentCertValiditySecs ? null,
      auditLogPath ? null,
      freshnessWindowMinutes,
      channelRefsSource ? { },
      rolloutsSource ? { },
      revocationsSource ? { },
      bootstrapNoncesSource ? { },
      rolloutsDir ? null,
      releaseDir ? null,
      webhookTokenFile ? null,
      closureUpstream ? null,
      closureCheckUrl ? null,
      strict ? false,
      logLevel ? null,
      metricsListen ? null,
      accessLog ? false,
      extraArgs ? [ ],
    }:
    let
      get = src: name: src.${name} or null;
      # A token file left unset falls back to the channel-refs token in the binary itself.
      urlSource = prefix: src: source (pairFlags prefix) (get src "artifactUrl") (get src "signatureUrl") (get src "tokenFile");
    in
    [
      "control-plane"
      "--listen"
      listen
      "--tls-cert"
      (req "--tls-cert" tlsCert)
      "--tls-key"
      (req "--tls-key" tlsKey)
    ]
    ++ opt "--client-ca" clientCa
    ++ [
      "--trust-file"
      trustFile
      "--database"
      databaseUrl
    ]
    ++ opt "--database-password-file" databasePasswordFile
    ++ [
      "--agent-cn-suffix"
      (req "--agent-cn-suffix" agentCnSuffix)
    ]
    ++ opt "--fleet-ca-cert" fleetCaCert
    ++ opt "--fleet-ca-key" fleetCaKey
    ++ flagIf allowFileCaKey "--allow-file-ca-key"
    ++ opt "--agent-cert-validity-secs" agentCertValiditySecs
    ++ opt "--audit-log" auditLogPath
    ++ [
      "--freshness-window-secs"
      (toString (freshnessWindowMinutes * 60))
    ]
    ++ opt "--release-dir" releaseDir
    ++ opt "--rollouts-dir" rolloutsDir
    ++ urlSource "channel-refs" channelRefsSource
    ++ source {
      artifact = "--rollouts-source-artifact-url-template";
      signature = "--rollouts-source-signature-url-template";
      token = "--rollouts-source-token-file";
    } (get rolloutsSource "artifactUrlTemplate") (get rolloutsSource "signatureUrlTemplate") (get rolloutsSource "tokenFile")
    ++ urlSource "revocations" revocationsSource
    ++ urlSource "bootstrap-nonces" bootstrapNoncesSource
    ++ opt "--webhook-token-file" webhookTokenFile
    ++ opt "--closure-upstream" closureUpstream
    ++ opt "--closure-check-url" closureCheckUrl
    ++ flagIf strict "--strict"
    ++ opt "--log-level" logLevel
    ++ opt "--metrics-listen" metricsListen
    ++ flagIf accessLog "--access-log"
    ++ extraArgs;
}
