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
    path = "node_modules/@puppeteer/browsers";
    name = "@puppeteer/browsers";
    version = "3.2.6";
    url = "https://registry.npmjs.org/@puppeteer/browsers/-/browsers-3.2.6.tgz";
    hash = "sha512-MJP29gVoHznmqmwhH1tlZqzfeQ3aylTpSSa6WKZXtkwYUH02i9imBmWGTyZrbnAou5paX78SE4jMAUqnEPf8ug==";
    dev = true;
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
    path = "node_modules/ansi-regex";
    name = "ansi-regex";
    version = "6.6.0";
    url = "https://registry.npmjs.org/ansi-regex/-/ansi-regex-6.6.0.tgz";
    hash = "sha512-XZ5apbzreCbXSKwPjJstu8R0zOi247w3XYwWxtwBXgpZrCyc1Ka7p9/xY0A9/diMewmHbEKz+FIraWaEWjlN5g==";
    dev = true;
  }
  {
    path = "node_modules/ansi-styles";
    name = "ansi-styles";
    version = "6.2.3";
    url = "https://registry.npmjs.org/ansi-styles/-/ansi-styles-6.2.3.tgz";
    hash = "sha512-4Dj6M28JB+oAH8kFkTLUo+a2jwOFkuqb3yucU0CANcRRUbxS0cP0nZYCGjcc3BNXwRIsUVmDGgzawme7zvJHvg==";
    dev = true;
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
    path = "node_modules/chromium-bidi";
    name = "chromium-bidi";
    version = "157.0.8090-0";
    url = "https://registry.npmjs.org/chromium-bidi/-/chromium-bidi-157.0.8090-0.tgz";
    hash = "sha512-KJw7IQgqXwxpJgJlEIPg5mr2ZoqA+jkTRtc5EABI7sUJ3bu3cpI7NuEBoj4Gn1AsF78CaT9So5WQWspK3/wYag==";
    dev = true;
  }
  {
    path = "node_modules/cliui";
    name = "cliui";
    version = "9.0.1";
    url = "https://registry.npmjs.org/cliui/-/cliui-9.0.1.tgz";
    hash = "sha512-k7ndgKhwoQveBL+/1tqGJYNz097I7WOvwbmmU2AR5+magtbjPWQTS1C5vzGkBC8Ym8UWRzfKUzUUqFLypY4Q+w==";
    dev = true;
  }
  {
    path = "node_modules/devtools-protocol";
    name = "devtools-protocol";
    version = "0.0.1704951";
    url = "https://registry.npmjs.org/devtools-protocol/-/devtools-protocol-0.0.1704951.tgz";
    hash = "sha512-GQhQOs9u/Mvm1zMtJIH872JS4AskuZdUSsPNPk4ChahtWAUqgz6atEtIsMt+nO7MqF1Ic4HxII/k8Cu36JivNg==";
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
    path = "node_modules/emoji-regex";
    name = "emoji-regex";
    version = "10.6.0";
    url = "https://registry.npmjs.org/emoji-regex/-/emoji-regex-10.6.0.tgz";
    hash = "sha512-toUI84YS5YmxW219erniWD0CIVOo46xGKColeNQRgOzDorgBi1v4D71/OFzgD9GO2UGKIv1C3Sp8DAn0+j5w7A==";
    dev = true;
  }
  {
    path = "node_modules/escalade";
    name = "escalade";
    version = "3.2.0";
    url = "https://registry.npmjs.org/escalade/-/escalade-3.2.0.tgz";
    hash = "sha512-WUj2qlxaQtO4g6Pq5c29GTcWGDyd8itL8zTlipgECz3JesAiiOKotd8JU6otB3PACgG6xkJUyVhboMS+bje/jA==";
    dev = true;
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
    path = "node_modules/get-caller-file";
    name = "get-caller-file";
    version = "2.0.5";
    url = "https://registry.npmjs.org/get-caller-file/-/get-caller-file-2.0.5.tgz";
    hash = "sha512-DyFP3BM/3YHTQOCUL/w0OZHR0lpKeGrxotcHWcqNEdnltqFwXVfhEBQ94eIo34AfQpo0rGki4cyIiftY06h2Fg==";
    dev = true;
  }
  {
    path = "node_modules/get-east-asian-width";
    name = "get-east-asian-width";
    version = "1.7.0";
    url = "https://registry.npmjs.org/get-east-asian-width/-/get-east-asian-width-1.7.0.tgz";
    hash = "sha512-XjH1AECxf0giL2V1aU8vKyRR2ppRUb5c0EvT7zuJTokQ74bNo52zOtghqdWIqrhUD79fo3x0WfKZdOqxF6LG1Q==";
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
    path = "node_modules/mitt";
    name = "mitt";
    version = "3.0.1";
    url = "https://registry.npmjs.org/mitt/-/mitt-3.0.1.tgz";
    hash = "sha512-vKivATfr97l2/QBCYAkXYDbrIWPM2IIKEl7YPhjCvKlG3kE2gm+uBo6nEXK3M5/Ffh/FLpKExzOQ3JJoJGFKBw==";
    dev = true;
  }
  {
    path = "node_modules/modern-tar";
    name = "modern-tar";
    version = "0.8.7";
    url = "https://registry.npmjs.org/modern-tar/-/modern-tar-0.8.7.tgz";
    hash = "sha512-q17gyzLiCw2wf/Rcl5c3EA5ynB2hOHb5+qMpbaILOQBaTiBx9bumfXC5sMk0wQrVoLtlBhW77dJTnLArlczsGg==";
    dev = true;
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
    path = "node_modules/puppeteer-core";
    name = "puppeteer-core";
    version = "25.16.0";
    url = "https://registry.npmjs.org/puppeteer-core/-/puppeteer-core-25.16.0.tgz";
    hash = "sha512-VA5Pf54N8shfopNkZZXCdiiwfnnY8ZJYAMqFQRhlH5mGUhfwf53Ar770GPtdpTDLUqvQeYpIBtC9/G2Jij2IJw==";
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
    path = "node_modules/string-width";
    name = "string-width";
    version = "8.3.0";
    url = "https://registry.npmjs.org/string-width/-/string-width-8.3.0.tgz";
    hash = "sha512-ZbmZM0JCihQN91dWnxoipT2KOEyHqEyfRXUyjuRhW8b/xnqPDoq4gWEVApTVa9db2wN8mmoikgFBbjh71+cGeQ==";
    dev = true;
  }
  {
    path = "node_modules/strip-ansi";
    name = "strip-ansi";
    version = "7.2.0";
    url = "https://registry.npmjs.org/strip-ansi/-/strip-ansi-7.2.0.tgz";
    hash = "sha512-yDPMNjp4WyfYBkHnjIRLfca1i6KMyGCtsVgoKe/z1+6vukgaENdgGBZt+ZmKPc4gavvEZ5OgHfHdrazhgNyG7w==";
    dev = true;
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
    path = "node_modules/typed-query-selector";
    name = "typed-query-selector";
    version = "2.12.4";
    url = "https://registry.npmjs.org/typed-query-selector/-/typed-query-selector-2.12.4.tgz";
    hash = "sha512-lF6/OY655DSWZeuNovde8TZhju6QyC0Xtav57b07oZQ1EQvfSowA3+WfLEhvFJOc9sVfAtW5hie1lGIppOqbpQ==";
    dev = true;
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
    path = "node_modules/webdriver-bidi-protocol";
    name = "webdriver-bidi-protocol";
    version = "1.0.1";
    url = "https://registry.npmjs.org/webdriver-bidi-protocol/-/webdriver-bidi-protocol-1.0.1.tgz";
    hash = "sha512-WXWs/aXF2a6Al1Z2/V/7Gp2oPZOAAmHjJOTmv4KCXRJ122IMj3tSSMc6a4q3K4QOmhQbse/Ahr+oTVJOU2dUiw==";
    dev = true;
  }
  {
    path = "node_modules/wrap-ansi";
    name = "wrap-ansi";
    version = "9.0.2";
    url = "https://registry.npmjs.org/wrap-ansi/-/wrap-ansi-9.0.2.tgz";
    hash = "sha512-42AtmgqjV+X1VpdOfyTGOYRi0/zsoLqtXQckTmqTeybT+BDIbM/Guxo7x3pE2vtpr1ok6xRqM9OpBe+Jyoqyww==";
    dev = true;
  }
  {
    path = "node_modules/ws";
    name = "ws";
    version = "8.23.1";
    url = "https://registry.npmjs.org/ws/-/ws-8.23.1.tgz";
    hash = "sha512-1rzWDSN0NOi3tpwgHsQExjWRoKUGtjCkJ2gZRaaRtzhYLboMytOI9pj9PU7yCgY37auqdd4OyLofZDbkeuZmPA==";
    dev = true;
  }
  {
    path = "node_modules/y18n";
    name = "y18n";
    version = "5.0.8";
    url = "https://registry.npmjs.org/y18n/-/y18n-5.0.8.tgz";
    hash = "sha512-0pfFzegeDWJHJIAmTLRP2DwHjdF5s7jo9tuztdQxAhINCdvS+3nGINqPd00AphqJR/0LhANUS6/+7SCb98YOfA==";
    dev = true;
  }
  {
    path = "node_modules/yargs";
    name = "yargs";
    version = "18.2.0";
    url = "https://registry.npmjs.org/yargs/-/yargs-18.2.0.tgz";
    hash = "sha512-9OpKOLeaoNFecEp7P6iYbzze/5CqWoH7N3SMs/6y1XF4nMvFMspEGZzJ6uFi9MmQwXhyzqYoSEKO3tvA3Z/o2w==";
    dev = true;
  }
  {
    path = "node_modules/yargs-parser";
    name = "yargs-parser";
    version = "22.0.0";
    url = "https://registry.npmjs.org/yargs-parser/-/yargs-parser-22.0.0.tgz";
    hash = "sha512-rwu/ClNdSMpkSrUb+d6BRsSkLUq1fmfsY6TOpYzTwvwkg1/NRG85KBy3kq++A8LKQwX6lsu+aWad+2khvuXrqw==";
    dev = true;
  }
  {
    path = "node_modules/zod";
    name = "zod";
    version = "4.6.7";
    url = "https://registry.npmjs.org/zod/-/zod-4.6.7.tgz";
    hash = "sha512-g8W2D2kU6a8untc053fX1uVBKzM7yqAxW/3zwk83+6RyF2+SKOuV+c0wBDhUwzV1PaGapmZH+rmcUzPf+3CGwg==";
    dev = true;
  }
  {
    path = "node_modules/cliui/node_modules/string-width";
    name = "string-width";
    version = "7.2.0";
    url = "https://registry.npmjs.org/string-width/-/string-width-7.2.0.tgz";
    hash = "sha512-tsaTIkKW9b4N+AEj+SVA+WhJzV7/zMhcSu78mLKWSk7cXMOSHsBKFWUs0fWwq8QyK3MgJBQRX6Gbi4kYbdvGkQ==";
    dev = true;
  }
  {
    path = "node_modules/tsyringe/node_modules/tslib";
    name = "tslib";
    version = "1.14.1";
    url = "https://registry.npmjs.org/tslib/-/tslib-1.14.1.tgz";
    hash = "sha512-Xni35NKzjgMrwevysHTCArtLDpPvye8zV/0E4EyYn43P7/7qvQwPh9BGkHewbMulVntbigmcT7rdX3BNo9wRJg==";
    dev = false;
  }
  {
    path = "node_modules/wrap-ansi/node_modules/string-width";
    name = "string-width";
    version = "7.2.0";
    url = "https://registry.npmjs.org/string-width/-/string-width-7.2.0.tgz";
    hash = "sha512-tsaTIkKW9b4N+AEj+SVA+WhJzV7/zMhcSu78mLKWSk7cXMOSHsBKFWUs0fWwq8QyK3MgJBQRX6Gbi4kYbdvGkQ==";
    dev = true;
  }
]
