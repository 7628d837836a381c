# `services.nixfleet.trust`: the fleet's public trust roots, shared by the agent and the control
# plane and rendered to the exact trust.json the binary parses (nix/lib/trust-json.nix).
#
# Everything here is public material (public keys, CA certificates), so it may live in the
# Nix store and in /etc. Rotation is done by editing these options: move `current` to
# `previous`, or stage a `successor` with its `retireAt`; the daemons restart on the change.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.services.nixfleet.trust;

  rfc3339 = "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})";
  # Standard base64 of the raw public key: 32 bytes for ed25519, 64 (X‖Y) for P-256.
  keyPattern = {
    ed25519 = "[A-Za-z0-9+/]{43}=";
    ecdsa-p256 = "[A-Za-z0-9+/]{86}==";
  };

  # A key may be written as its base64 string (ed25519) or as { algorithm; public; }.
  keyType =
    algorithms:
    types.coercedTo types.str (public: { inherit public; }) (
      types.submodule {
        options = {
          algorithm = mkOption {
            type = types.enum algorithms;
            default = "ed25519";
            description = "Signature algorithm of the key.";
          };
          public = mkOption {
            type = types.str;
            example = "Gm0dIQ5y9dYkPZ5bL7y1rnA6FqvqK8r3E4uUQ0m1mB4=";
            description = "Standard base64 of the raw public key (32 bytes for ed25519, 64 bytes X‖Y for ecdsa-p256).";
          };
        };
      }
    );

  slotOptions =
    {
      what,
      algorithms,
      grace,
    }:
    {
      current = mkOption {
        type = types.nullOr (keyType algorithms);
        default = null;
        example = "Gm0dIQ5y9dYkPZ5bL7y1rnA6FqvqK8r3E4uUQ0m1mB4=";
        description = "The active ${what} public key.";
      };
      previous = mkOption {
        type = types.nullOr (keyType algorithms);
        default = null;
        description = "The ${what} key being rotated out; still accepted (keep it for ${grace}, then remove it).";
      };
      successor = mkOption {
        type = types.nullOr (keyType algorithms);
        default = null;
        description = "A ${what} key staged ahead of a rotation; accepted until `retireAt`.";
      };
      retireAt = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "2026-07-01T00:00:00Z";
        description = "RFC 3339 time until which `successor` is accepted. Required with `successor`.";
      };
      rejectBefore = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "2026-05-01T12:00:00Z";
        description = ''
          Compromise kill-switch: anything signed strictly before this RFC 3339 time is refused,
          whatever key signed it. Set it after a leaked key, once a re-signed release exists.
        '';
      };
    };

  slotAssertions =
    name: slot: algorithms:
    let
      at = "services.nixfleet.trust.${name}";
      keyOk =
        k:
        k == null || (builtins.elem k.algorithm algorithms && builtins.match keyPattern.${k.algorithm} k.public != null);
      keyMsg =
        field: k:
        "${at}.${field}: '${k.public}' is not a base64 ${k.algorithm} public key "
        + "(expected ${if k.algorithm == "ecdsa-p256" then "88 characters: 64 raw bytes X‖Y" else "44 characters: 32 raw bytes"}; "
        + "`nixfleet keygen` prints one).";
      timeOk = t: t == null || builtins.match rfc3339 t != null;
    in
    map (field: {
      assertion = keyOk slot.${field};
      message = keyMsg field slot.${field};
    }) [ "current" "previous" "successor" ]
    ++ [
      {
        assertion = slot.previous == null || slot.current != null;
        message = "${at}.previous is set but ${at}.current is not: a rotation keeps the old key next to a new current one.";
      }
      {
        assertion = (slot.successor == null) == (slot.retireAt == null);
        message = "${at}.successor and ${at}.retireAt go together: a staged key needs the end of its window (and a window needs a key).";
      }
      {
        assertion = timeOk slot.retireAt && timeOk slot.rejectBefore;
        message = "${at}.retireAt and ${at}.rejectBefore must be RFC 3339 timestamps such as 2026-01-02T03:04:05Z.";
      }
    ];
in
{
  imports = [
    # The reference spells these with capital CA; accept the old names (with a warning).
    (lib.mkRenamedOptionModule
      [ "services" "nixfleet" "trust" "rootCAPem" ]
      [ "services" "nixfleet" "trust" "rootCaPem" ]
    )
    (lib.mkRenamedOptionModule
      [ "services" "nixfleet" "trust" "issuanceCAPems" ]
      [ "services" "nixfleet" "trust" "issuanceCaPems" ]
    )
  ];

  options.services.nixfleet.trust = {
    ciReleaseKey = slotOptions {
      what = "CI release signing";
      algorithms = [
        "ed25519"
        "ecdsa-p256"
      ];
      grace = "30 days";
    };

    orgRootKey = slotOptions {
      what = "organisation root (bootstrap-token signing)";
      algorithms = [ "ed25519" ];
      grace = "90 days";
    };

    cacheKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "cache.example.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=" ];
      description = "Public keys (`name:base64`) of the binary cache CI pushes closures to. On a host running the agent they become Nix `trusted-public-keys` (with `cacheUrl` or the agent's closure proxy as substituter); Nix checks every closure's signatures against them, NixFleet does not.";
    };

    cacheUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "https://cache.example.org";
      description = "The binary cache CI pushes closures to (`nix copy --to …`). On a host running the agent it becomes a Nix substituter, trusted through `cacheKeys`; set both or neither. Null: hosts use their own substituter settings (or the agent's closure proxy).";
    };

    rootCaPem = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = lib.literalExpression "builtins.readFile ./fleet-root-ca.pem";
      description = "PEM of the offline fleet root CA certificate (public).";
    };

    issuanceCaPems = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = lib.literalExpression "[ (builtins.readFile ./fleet-issuance-ca.pem) ]";
      description = "PEMs of the issuance CA certificates; several during a CA rotation.";
    };

    json = mkOption {
      type = types.attrs;
      readOnly = true;
      internal = true;
      description = "The trust.json document rendered from the options above.";
    };

    file = mkOption {
      type = types.package;
      readOnly = true;
      description = ''
        The rendered trust.json in the Nix store. The agent and control-plane modules install it
        as /etc/nixfleet/agent/trust.json and /etc/nixfleet/cp/trust.json; auditors can pass it to
        `nixfleet verify … --trust-file`.
      '';
    };

    configured = mkOption {
      type = types.bool;
      readOnly = true;
      internal = true;
      description = "Whether a CI release key is set, i.e. whether the rendered trust.json is usable.";
    };
  };

  config.services.nixfleet.trust = {
    json = import ../lib/trust-json.nix cfg;
    file = pkgs.writeText "nixfleet-trust.json" (builtins.toJSON cfg.json);
    configured = cfg.ciReleaseKey.current != null;
  };

  config.assertions =
    slotAssertions "ciReleaseKey" cfg.ciReleaseKey [
      "ed25519"
      "ecdsa-p256"
    ]
    ++ slotAssertions "orgRootKey" cfg.orgRootKey [ "ed25519" ]
    ++ lib.imap0 (i: pem: {
      assertion = lib.hasInfix "-----BEGIN CERTIFICATE-----" pem;
      message = "services.nixfleet.trust.issuanceCaPems.${toString i} is not a PEM certificate (-----BEGIN CERTIFICATE-----).";
    }) cfg.issuanceCaPems
    ++ [
      {
        assertion = cfg.rootCaPem == null || lib.hasInfix "-----BEGIN CERTIFICATE-----" cfg.rootCaPem;
        message = "services.nixfleet.trust.rootCaPem is not a PEM certificate (-----BEGIN CERTIFICATE-----); use builtins.readFile on the .pem file.";
      }
    ]
    ++ lib.imap0 (i: k: {
      assertion = builtins.match ".+:[A-Za-z0-9+/]+=*" k != null;
      message = "services.nixfleet.trust.cacheKeys.${toString i} ('${k}') is not a Nix cache key of the form name:base64.";
    }) cfg.cacheKeys;
}
