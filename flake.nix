{
  description = "NixFleet: signed, staged NixOS fleet rollouts (control plane, agent, release and audit tools)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # NixOS module checks only make sense where NixOS runs.
      forLinux = f: lib.genAttrs (lib.filter (lib.hasSuffix "-linux") systems) (system: f nixpkgs.legacyPackages.${system});

      version = (lib.importJSON ./package.json).version;
      # Only what the build reads, so editing docs or tests does not rebuild the binary.
      # (builtins.path rather than lib.fileset: the latter needs Nix >= 2.14 in pure evaluation.)
      src = builtins.path {
        name = "nixfleet-source";
        path = ./.;
        filter =
          path: type:
          let
            rel = lib.removePrefix (toString ./. + "/") (toString path);
          in
          builtins.elem rel [
            "package.json"
            "bun.lock"
            "bunfig.toml"
            "tsconfig.json"
            "src"
          ]
          || (lib.hasPrefix "src/" rel && !lib.hasSuffix ".test.ts" rel);
      };
      packageFor = pkgs: pkgs.callPackage ./nix/package.nix { inherit src version; };

      # The module files default `package` to `pkgs.nixfleet`; through the flake it is this
      # flake's build for the host's platform (mkDefault: operators can still pin another).
      withPackage =
        name: file:
        { lib, pkgs, ... }:
        {
          _file = "${self}/flake.nix#nixosModules.${name}";
          imports = [ file ];
          config.services.nixfleet.${name}.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
    in
    {
      packages = forAllSystems (pkgs: rec {
        nixfleet = packageFor pkgs;
        default = nixfleet;
      });

      # `nix run github:OWNER/REPO -- verify artifact …`: the auditor's tool, no install needed.
      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          meta.description = "nixfleet: verify signed releases offline, sign releases, run the agent or control plane";
        };
      });

      overlays.default = final: _prev: { nixfleet = packageFor final; };

      # The fleet as Nix code: `fleet = nixfleet.lib.mkFleet { … }` (docs/nixos.md). Evaluated with
      # this flake's nixpkgs lib; nix/lib/mk-fleet.nix itself needs only `lib.warn`.
      lib = import ./nix/lib/mk-fleet.nix { inherit lib; };

      # `nix flake init -t github:OWNER/REPO`: a fleet repository to start from.
      templates.default = {
        path = ./templates/default;
        description = "A NixOS fleet rolled out by NixFleet: a control plane and two hosts, two channels, CI that signs releases";
      };

      nixosModules = {
        agent = withPackage "agent" ./nix/modules/agent.nix;
        controlPlane = withPackage "controlPlane" ./nix/modules/control-plane.nix;
        trust.imports = [ ./nix/modules/trust.nix ];
        default = {
          imports = [
            self.nixosModules.agent
            self.nixosModules.controlPlane
          ];
        };
      };

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.bun
            pkgs.nixfmt
            pkgs.nix
          ];
        };
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      checks = forLinux (
        pkgs:
        let
          system = pkgs.stdenv.hostPlatform.system;
          nixfleet = self.packages.${system}.default;
          # The NixOS configurations of docs/nixos.md, evaluated with the real module system.
          evalHost =
            module: config:
            lib.nixosSystem {
              modules = [
                module
                config
                {
                  nixpkgs.hostPlatform = system;
                  boot.isContainer = true;
                  system.stateVersion = lib.trivial.release;
                }
              ];
            };
          # Forces the whole system (assertions included) and keeps the unit text; the text's
          # store references are dropped so this check evaluates instead of building a system.
          unitCheck =
            host: unit:
            pkgs.writeText unit (
              builtins.seq host.config.system.build.toplevel.drvPath (
                builtins.unsafeDiscardStringContext host.config.systemd.units.${unit}.text
              )
            );
          samples = import ./nix/tests/samples.nix {
            dir = "${placeholder "out"}/samples";
          };
        in
        {
          package = nixfleet;
          agent-module = unitCheck (evalHost self.nixosModules.agent ./nix/tests/agent-config.nix) "nixfleet-agent.service";
          control-plane-module = unitCheck (evalHost self.nixosModules.controlPlane ./nix/tests/control-plane-config.nix) "nixfleet-control-plane.service";
          # mkFleet's fixtures with nixpkgs' lib (messages and warnings: nix/tests/mk-fleet/run.sh).
          mk-fleet = pkgs.writeText "nixfleet-mk-fleet-fixtures" (
            builtins.toJSON (import ./nix/tests/mk-fleet/check.nix { inherit lib; })
          );
          # The template's fleet over its real NixOS configurations, with this flake as `nixfleet`.
          template-fleet =
            let
              template = (import ./templates/default/flake.nix).outputs {
                self = template;
                inherit nixpkgs;
                nixfleet = self;
              };
            in
            pkgs.writeText "template-fleet.resolved.json" (builtins.toJSON template.fleet.resolved);
          # The module's command lines, run through the binary's own `--check-config`.
          check-config = pkgs.runCommand "nixfleet-check-config" { } ''
            mkdir -p $out
            export nixfleet=${lib.getExe nixfleet}
            ${samples.script}
          '';
        }
      );
    };
}
