# Option types shared by the NixFleet modules.
lib:
let
  inherit (lib) types;
in
{
  # A runtime path, given as a string. Not `types.path`: a path literal such as ./ca.key would
  # be copied into the world-readable Nix store, which is exactly wrong for keys and tokens.
  absPath =
    types.addCheck types.str (s: builtins.substring 0 1 s == "/")
    // {
      name = "absPath";
      description = "absolute path, as a string (a Nix path literal would copy the file into the world-readable store)";
    };

  # The `package` option of a module (`attr` as in `nixosModules.<attr>`, which sets it).
  packageOption =
    pkgs: attr:
    lib.mkOption {
      type = types.package;
      default =
        pkgs.nixfleet
          or (throw "services.nixfleet.${attr}.package is not set: import the module through the NixFleet flake (nixosModules.${attr} sets it), or set it yourself.");
      defaultText = lib.literalExpression "nixfleet.packages.\${pkgs.system}.default";
      description = "The package providing `bin/nixfleet`.";
    };

  # The `logLevel` option of a daemon (`who` names it in the description).
  logLevelOption =
    who:
    lib.mkOption {
      type = types.enum [
        "debug"
        "info"
        "warn"
        "error"
      ];
      default = "info";
      description = "Verbosity of ${who}'s log (JSON lines, in the journal).";
    };

  # The `extraArgs` option of a daemon started as `nixfleet <command>`.
  extraArgsOption =
    command:
    lib.mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Extra command-line arguments for `nixfleet ${command}`.";
    };

  # HOST:PORT, with IPv6 hosts in brackets.
  listenAddress =
    types.strMatching "(\\[[0-9A-Fa-f:.]+]|[^:]*):[0-9]{1,5}"
    // {
      description = "HOST:PORT (IPv6 hosts in brackets, e.g. [::]:8443)";
    };
}
