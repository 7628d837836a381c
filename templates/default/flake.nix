{
  description = "A NixOS fleet rolled out by NixFleet";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    # Replace OWNER/REPO with the repository you take NixFleet from.
    nixfleet.url = "github:OWNER/REPO";
    nixfleet.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs =
    {
      self,
      nixpkgs,
      nixfleet,
      ...
    }:
    let
      system = "x86_64-linux";
      # Every host: the fleet's trust roots, what all hosts share, then its own file.
      nixos =
        modules:
        nixpkgs.lib.nixosSystem {
          modules = [
            ./trust.nix
            ./hosts/common.nix
            { nixpkgs.hostPlatform = system; }
          ] ++ modules;
        };
    in
    {
      # The NixFleet CLI at the version the hosts run: `nix run .#nixfleet -- --help`.
      packages.${system}.nixfleet = nixfleet.packages.${system}.default;

      nixosConfigurations = {
        # The control plane (and an agent: it is rolled out like every other host).
        cp = nixos [
          nixfleet.nixosModules.default
          ./hosts/cp.nix
        ];
        web-01 = nixos [
          nixfleet.nixosModules.agent
          ./hosts/web-01.nix
        ];
        web-02 = nixos [
          nixfleet.nixosModules.agent
          ./hosts/web-02.nix
        ];
      };

      # Which host follows which release train, in which order. CI signs
      # `nix eval --json .#fleet.resolved` (.github/workflows/release.yml); `nix eval` it yourself
      # to see the waves. mkFleet refuses a fleet that breaks an invariant (an unknown channel,
      # an edge cycle, a freshness window under two signing intervals, ...).
      fleet = nixfleet.lib.mkFleet {
        hosts = {
          # The names are the hosts' networking.hostName (the agents' machine id).
          cp = {
            inherit system;
            configuration = self.nixosConfigurations.cp;
            tags = [ "control-plane" ];
            channel = "infra";
            # The host's SSH host key, once it exists (`ssh-keyscan -t ed25519 cp`); the
            # control plane binds the host's enrolment to it.
            pubkey = null;
          };
          web-01 = {
            inherit system;
            configuration = self.nixosConfigurations.web-01;
            tags = [
              "web"
              "canary"
            ];
            channel = "stable";
            pubkey = null;
          };
          web-02 = {
            inherit system;
            configuration = self.nixosConfigurations.web-02;
            tags = [ "web" ];
            channel = "stable";
            pubkey = null;
          };
        };

        tags = {
          canary.description = "Takes each release first and soaks it before the others.";
          web.description = "Web servers: at most one switches at a time.";
          control-plane.description = "Runs the NixFleet control plane.";
        };

        # Release trains. CI re-signs every 6 hours (the workflow's schedule); a signed release
        # stays acceptable for 24 hours, so one missed run strands nobody.
        channels = {
          stable = {
            description = "The web tier.";
            rolloutPolicy = "canary";
            signingIntervalMinutes = 360;
            freshnessWindow = 1440;
          };
          infra = {
            description = "The control plane host, once the web tier converged.";
            rolloutPolicy = "all-at-once";
            signingIntervalMinutes = 360;
            freshnessWindow = 1440;
          };
        };

        rolloutPolicies = {
          canary = {
            strategy = "canary";
            waves = [
              {
                selector.tags = [ "canary" ];
                soakMinutes = 30;
              }
              { selector.all = true; }
            ];
            healthGate.systemdFailedUnits.max = 0;
            onHealthFailure = "rollback-and-halt";
          };
          all-at-once = {
            strategy = "all-at-once";
            waves = [ { selector.all = true; } ];
          };
        };

        # A release reaches the control plane only after the web tier converged on it.
        channelEdges = [
          {
            gates = "stable";
            gated = "infra";
            reason = "a release proves itself on the web tier before the control plane takes it";
          }
        ];

        disruptionBudgets = [
          {
            selector.tags = [ "web" ];
            maxInFlight = 1;
          }
        ];

        # Certificates to refuse, e.g. of a decommissioned or compromised host:
        #   { hostname = "web-02"; notBefore = "2026-06-01T00:00:00Z"; reason = "disk stolen"; }
        revocations = [ ];

        # Enrolment allow-list: paste the entry `nixfleet mint-token` prints.
        bootstrapNonces = builtins.fromJSON (builtins.readFile ./bootstrap-nonces.json);
      };
    };
}
