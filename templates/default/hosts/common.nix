# What every host shares: the NixFleet agent, and placeholders for the machine itself.
{ ... }:
{
  # Replace with each host's hardware (nixos-generate-config) in its own file.
  boot.loader.grub.device = "/dev/sda";
  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };
  system.stateVersion = "25.11";

  # The agent's identity is the SSH host key (/etc/ssh/ssh_host_ed25519_key).
  services.openssh.enable = true;

  services.nixfleet.agent = {
    enable = true;
    controlPlaneUrl = "https://cp.fleet.example.org:8443";
    # Single-use token for the first enrolment (README.md, "Enrolling a host"); not needed
    # once the host holds its certificate.
    bootstrapTokenFile = "/var/lib/nixfleet/bootstrap-token";
    # Releases are acted on while their channel's signed freshnessWindow lasts; CI re-signs on
    # a schedule (.github/workflows). manifestFreshnessWindowSecs could only tighten that.
  };
}
