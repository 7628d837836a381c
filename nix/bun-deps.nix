# Generated from bun.lock by nix/gen-bun-deps.ts; do not edit. Regenerate with
#   bun nix/gen-bun-deps.ts
# (nix/bun-deps.test.ts fails when this file and bun.lock disagree.)
# One entry per lockfile package: where it goes under node_modules, its registry tarball and
# the lockfile's integrity hash, which fetchurl verifies. `dev` entries are only reachable
# from devDependencies and are left out of the package build.
[
  {
    path = "node_modules/@hono/node-server";
    name = "@hono/node-server";
    version = "2.1.9";
    url = "https://registry.npmjs.org/@hono/node-server/-/node-server-2.1.9.tgz";
    hash = "sha512-Sk4NQd3GFY0WZWCzndwFMPwJhtD0y9qjsQ+pjID0/03nK9pxyBCUoUHCho8QYBLBVhi0ssL8UkNPHqbgSOFPIQ==";
    dev = false;
  }
  {
    path = "node_modules/@noble/ed25519";
    name = "@noble/ed25519";
    version = "3.2.0";
    url = "https://registry.npmjs.org/@noble/ed25519/-/ed25519-3.2.0.tgz";
    hash = "sha512-criDgRlnUA09hchYrTy/JUWPIEap5rZxQe6wDWzRx51oWWpDRcUpuNzlgPxDJaOK6AsW9c0wKcj3rKRv6t+bPQ==";
    dev = false;
  }
  {
    path = "node_modules/@noble/hashes";
    name = "@noble/hashes";
    version = "2.4.0";
    url = "https://registry.npmjs.org/@noble/hashes/-/hashes-2.4.0.tgz";
    hash = "sha512-X5XaVWZIBCT7HHZGm5I7ZQXDwLG+bGXuSrMQAW+7Zvl87h1kmc1ZB1VSRJcpUfoUrGQp4Fkoxm5kZ+Ms+aW+eA==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-asym-key";
    name = "@peculiar/asn1-asym-key";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-asym-key/-/asn1-asym-key-2.11.1.tgz";
    hash = "sha512-YtXR0FbDtjHuNGvWXD4HFE7th5xYwG67O+ApDH/FZsjj5MOrWHzDvqwZ1vm6uFUJtMAkUDcF6VMPGOJ5gnLyUA==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-cms";
    name = "@peculiar/asn1-cms";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-cms/-/asn1-cms-2.11.1.tgz";
    hash = "sha512-Bk+oatE62dW0Tzzpfk6vdQxfGGEfvuGdWgmijnKjcv7HqZCJISs85z4zw2uDArrk+R1Oel1wts/BBl7HHrtAcA==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-csr";
    name = "@peculiar/asn1-csr";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-csr/-/asn1-csr-2.11.1.tgz";
    hash = "sha512-KVfbXaKng8886/tOPG55t5K1XkTkGbR4amjIJzytXWobFU5nZgw/sKnSpa1hxP17nUSsrOF/7Mt9WUYeyLsi6Q==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-ecc";
    name = "@peculiar/asn1-ecc";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-ecc/-/asn1-ecc-2.11.1.tgz";
    hash = "sha512-7MSNji77fQa/oN3WAfwagMy8EoJFg50sW4hZ1dtr0zU1BSugit0I2DGpIdPhvkNplopQhz5bogxpn1077eaamA==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-pfx";
    name = "@peculiar/asn1-pfx";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-pfx/-/asn1-pfx-2.11.1.tgz";
    hash = "sha512-2SN2z8qkc2hk/GgTYA8RN54wtsCDZShg9gI2Mq1vLhdj1adcv5fhTbiEmExZUaAMqlizxiEpULQDfHM5iYtn1g==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-pkcs8";
    name = "@peculiar/asn1-pkcs8";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-pkcs8/-/asn1-pkcs8-2.11.1.tgz";
    hash = "sha512-HqsSrnpQghRp9SM9QSmR6fa4z/BNktnKq7928+oq4qF0VAnuHZ4cyePKvcxh9fP4taBCP/WHNItlVNsYaQm2qw==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-pkcs9";
    name = "@peculiar/asn1-pkcs9";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-pkcs9/-/asn1-pkcs9-2.11.1.tgz";
    hash = "sha512-OHFkTg8D2zYafILqFE4KPbqX8srpvd3diGDc2h2cduumawc765mOHGcuFMGvLWlL2bbCMWMmMSCtlXptsOuiPA==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-rsa";
    name = "@peculiar/asn1-rsa";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-rsa/-/asn1-rsa-2.11.1.tgz";
    hash = "sha512-6KwKGjulF489CpidZqkogNgLj6oGzgC4BL2FClM8PuJQ4t5NqT4q4a6A4vrSxBIBhMnL8hGYkLOpbVw0Vq38Tw==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-schema";
    name = "@peculiar/asn1-schema";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-schema/-/asn1-schema-2.11.1.tgz";
    hash = "sha512-jaU9OaCcbZUdyXx9hMETZB9xoNmxTGjOGFqd3cOwKFkpKnyKd9WxF3uqj4PvX4cyOMP9bSdHg5YyML2qtx/d/g==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-x509";
    name = "@peculiar/asn1-x509";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-x509/-/asn1-x509-2.11.1.tgz";
    hash = "sha512-SXU4/X6B3FquqQAN6ARI0bFDUV7+L1WlvPEPMKzEMkstd2D7UyM0r93fv241+OjdhqAKYGx5MvV3gzZMAp0APA==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-x509-attr";
    name = "@peculiar/asn1-x509-attr";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-x509-attr/-/asn1-x509-attr-2.11.1.tgz";
    hash = "sha512-n7RKFrbTzt8pGBlZ90kmKEn1qsLTTyw7lrvHMK0xsA42kQugPk/GXYpNbEcl7DkkdVsU/one5UX7KQPfxLj8vQ==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/asn1-x509-post-quantum";
    name = "@peculiar/asn1-x509-post-quantum";
    version = "2.11.1";
    url = "https://registry.npmjs.org/@peculiar/asn1-x509-post-quantum/-/asn1-x509-post-quantum-2.11.1.tgz";
    hash = "sha512-yD/pxCQ97nzwF7MGAW4kRd1WVLiMPhD39HxOnAr38DfGFwbpVhPnMbq+r6WX0XUrxn4w8ulsTdUafwVl46igLA==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/utils";
    name = "@peculiar/utils";
    version = "2.0.3";
    url = "https://registry.npmjs.org/@peculiar/utils/-/utils-2.0.3.tgz";
    hash = "sha512-+oL3HPFRIZ1St2K50lWCXiioIgSoxzz7R1J3uF6neO2yl1sgmpgY6XXJH4BdpoDkMWznQTeYF6oWNDZLCdQ4eQ==";
    dev = false;
  }
  {
    path = "node_modules/@peculiar/x509";
    name = "@peculiar/x509";
    version = "2.2.0";
    url = "https://registry.npmjs.org/@peculiar/x509/-/x509-2.2.0.tgz";
    hash = "sha512-adpW58ySPQMOUPv8pTKT3RIyCFqfUFt8X05ukPdtkQToXDVr8dMtxuenik1yx8tNFTbpApWsM/Hi5SzlIx48+Q==";
    dev = false;
  }
  {
    path = "node_modules/@types/bun";
    name = "@types/bun";
    version = "1.4.4";
    url = "https://registry.npmjs.org/@types/bun/-/bun-1.4.4.tgz";
    hash = "sha512-9wkRDXUXK124pEnAutE6n/l18j+i9GC5IAHK8TmX/2nlySETmky0OU6yL5U8pW1AoKh++AN9auDCr647BfurjQ==";
    dev = true;
  }
  {
    path = "node_modules/@types/node";
    name = "@types/node";
    version = "26.6.6";
    url = "https://registry.npmjs.org/@types/node/-/node-26.6.6.tgz";
    hash = "sha512-MzQj+8Kx3XI40OmUAE6Qoh58ZMNstNNMwn2nfd3qWsfe7nDNSqJNzes4njhz6AHwrSHOffSLwXU6yb474Q4aog==";
    dev = true;
  }
  {
    path = "node_modules/@valibot/to-json-schema";
    name = "@valibot/to-json-schema";
    version = "1.8.0";
    url = "https://registry.npmjs.org/@valibot/to-json-schema/-/to-json-schema-1.8.0.tgz";
    hash = "sha512-a0M+uwCuQZEPAo65NYkFSJ14O5c213KoSZmPdoCfuFvUhfULi4T2Z6Tpjv6lTVMW9RoLm74RpRAjNEa43KcN+g==";
    dev = false;
  }
  {
    path = "node_modules/asn1js";
    name = "asn1js";
    version = "3.1.0";
    url = "https://registry.npmjs.org/asn1js/-/asn1js-3.1.0.tgz";
    hash = "sha512-HWYi1THkOqguCiO+vwj09ZkQFD2kKEsejYHAYCtX0D80WVdoDnvRc9IukXX/jeb0T9NRWJnRtqwdbHltnFjwXA==";
    dev = false;
  }
  {
    path = "node_modules/bun-types";
    name = "bun-types";
    version = "1.4.4";
    url = "https://registry.npmjs.org/bun-types/-/bun-types-1.4.4.tgz";
    hash = "sha512-yjrJh5oGX7mMPKGd19YXyIjmEuj4G4zNC30bs7PM9Az7NQ3ndF3j6hbeRdvJTRQEhJ/FYQwW0a2moweEi2hMxQ==";
    dev = true;
  }
  {
    path = "node_modules/drizzle-orm";
    name = "drizzle-orm";
    version = "0.45.4";
    url = "https://registry.npmjs.org/drizzle-orm/-/drizzle-orm-0.45.4.tgz";
    hash = "sha512-NiM1YZpJ2UxyeE67DpDDZ+Tsw4YLX3trSlkNT7Tm9eKoUNb1LvaAaQzXgYQsWs+AQ9TUmmwMmBOCXuqqxUWKKQ==";
    dev = false;
  }
  {
    path = "node_modules/fast-check";
    name = "fast-check";
    version = "4.10.2";
    url = "https://registry.npmjs.org/fast-check/-/fast-check-4.10.2.tgz";
    hash = "sha512-iK2f+YrcmoeGqk6fA0ea2bptcu/itMIm4NfEozq6N25+aG6h7s5HZbB/k1aV7b5w5sFLMCbbtRUsTVR+BgC3xw==";
    dev = true;
  }
  {
    path = "node_modules/hono";
    name = "hono";
    version = "4.13.19";
    url = "https://registry.npmjs.org/hono/-/hono-4.13.19.tgz";
    hash = "sha512-KmXvQAXwcAHV+muzbIwoJ23niEB5nMoDVr9WcRkU8mvjUECm/1+7v4Jgp7P7a+H6MLFrh+vXrGonGrGS+RQfkA==";
    dev = false;
  }
  {
    path = "node_modules/prettier";
    name = "prettier";
    version = "3.10.1";
    url = "https://registry.npmjs.org/prettier/-/prettier-3.10.1.tgz";
    hash = "sha512-70vp3ZUYoPlFbF9uiTdXHUUCGEIp7d4+6p+8DYbkm2jP7x/3i/paXVF6dopSI3zd/CEitrZN1rc4i85xWmmXlg==";
    dev = true;
  }
  {
    path = "node_modules/pure-rand";
    name = "pure-rand";
    version = "8.4.2";
    url = "https://registry.npmjs.org/pure-rand/-/pure-rand-8.4.2.tgz";
    hash = "sha512-vvuOGgcuPJAirlHvuQw1TrOiw7ptaIXXmIbNuiNOY6lNGJJH49PQ1Kj4nd783nPdQhQdicgOjVI2yI/9BD6/Ng==";
    dev = true;
  }
  {
    path = "node_modules/pvtsutils";
    name = "pvtsutils";
    version = "1.3.6";
    url = "https://registry.npmjs.org/pvtsutils/-/pvtsutils-1.3.6.tgz";
    hash = "sha512-PLgQXQ6H2FWCaeRak8vvk1GW462lMxB5s3Jm673N82zI4vqtVUPuZdffdZbPDFRoU8kAhItWFtPCWiPpp4/EDg==";
    dev = false;
  }
  {
    path = "node_modules/pvutils";
    name = "pvutils";
    version = "1.2.0";
    url = "https://registry.npmjs.org/pvutils/-/pvutils-1.2.0.tgz";
    hash = "sha512-BbubeCEyTuQjVMakvJQ/Sxbc93F2pwmbsxONT/ZRrwU7Ua38d8unYTwXpTVLAKJ4BDuH9IGztCjQcd/N/39Dvg==";
    dev = false;
  }
  {
    path = "node_modules/tslib";
    name = "tslib";
    version = "2.9.1";
    url = "https://registry.npmjs.org/tslib/-/tslib-2.9.1.tgz";
    hash = "sha512-a4Ux9VKuIMHsOS7ENbEq6hK2ZGYIT27Rtl0E4eD9KqwxhKiQeMZE/9xb3IdYwWaSOyIBQLExhQgXDTYoiCxnWA==";
    dev = false;
  }
  {
    path = "node_modules/tsyringe";
    name = "tsyringe";
    version = "4.10.0";
    url = "https://registry.npmjs.org/tsyringe/-/tsyringe-4.10.0.tgz";
    hash = "sha512-axr3IdNuVIxnaK5XGEUFTu3YmAQ6lllgrvqfEoR16g/HGnYY/6We4oWENtAnzK6/LpJ2ur9PAb80RBt7/U4ugw==";
    dev = false;
  }
  {
    path = "node_modules/typescript";
    name = "typescript";
    version = "5.9.3";
    url = "https://registry.npmjs.org/typescript/-/typescript-5.9.3.tgz";
    hash = "sha512-jl1vZzPDinLr9eUt3J/t7V6FgNEw9QjvBPdysz9KfQDD41fQrC2Y4vKQdiaUpFT4bXlb1RHhLpp8wtm6M5TgSw==";
    dev = true;
  }
  {
    path = "node_modules/undici-types";
    name = "undici-types";
    version = "8.9.0";
    url = "https://registry.npmjs.org/undici-types/-/undici-types-8.9.0.tgz";
    hash = "sha512-KTDyRTYX8sWmKXAikPHHSyc63CRPETMctyjKFupcC6OBLXT3xsN0e9aF7m+mIXutFWpUXuedtowG7iLOzp0kQg==";
    dev = true;
  }
  {
    path = "node_modules/valibot";
    name = "valibot";
    version = "1.5.0";
    url = "https://registry.npmjs.org/valibot/-/valibot-1.5.0.tgz";
    hash = "sha512-nil6AkP2TChWL43Z5uJ6GTxX01CUA+g8LWUM+N/rB9NBbkUMaUsi9PUNzlUPgoKASgmx9f7eGOYpJ04/fSa6FQ==";
    dev = false;
  }
  {
    path = "node_modules/tsyringe/node_modules/tslib";
    name = "tslib";
    version = "1.14.1";
    url = "https://registry.npmjs.org/tslib/-/tslib-1.14.1.tgz";
    hash = "sha512-Xni35NKzjgMrwevysHTCArtLDpPvye8zV/0E4EyYn43P7/7qvQwPh9BGkHewbMulVntbigmcT7rdX3BNo9wRJg==";
    dev = false;
  }
]
