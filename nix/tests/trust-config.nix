# The fleet's trust.nix of docs/nixos.md (public material only), shared by the test hosts.
# Real fleets set rootCaPem = builtins.readFile ./fleet-ca.pem.
{
  services.nixfleet.trust = {
    ciReleaseKey.current = "Gm0dIQ5y9dYkPZ5bL7y1rnA6FqvqK8r3E4uUQ0m1mB4=";
    orgRootKey.current = "3xLQ0ZzJ4v8M5z0b0lDkz5Q2mQYH0fG0l8xk3nFv2Xc=";
    rootCaPem = ''
      -----BEGIN CERTIFICATE-----
      MIIBjTCCATOgAwIBAgIUQ3JlYXRlZCBmb3IgbW9kdWxlIGNoZWNrczAKBggqhkjO
      -----END CERTIFICATE-----
    '';
  };
}
