# The fleet as Nix code: `nixfleet.lib.{mkFleet, mergeFleets, withSignature}`.
#
#   fleet = nixfleet.lib.mkFleet {
#     hosts.web-01 = { system = "x86_64-linux"; configuration = self.nixosConfigurations.web-01;
#                      tags = [ "web" ]; channel = "stable"; };
#     channels.stable = { rolloutPolicy = "canary"; freshnessWindow = 1440; };
#     rolloutPolicies.canary = { strategy = "canary"; waves = [ … ]; };
#   };
#
# mkFleet checks the definition (option types, defaults, then the fleet's invariants) and returns
# it completed with its defaults, plus:
#   resolved         the fleet.resolved document that CI signs: `nix eval --json .#fleet.resolved`
#   revocations      the list `nixfleet release --revocations` signs
#   bootstrapNonces  the enrolment allow-list `nixfleet release --bootstrap-nonces` signs
# Forcing `resolved` (or `revocations`, `bootstrapNonces`) throws when the definition is wrong,
# with every problem found, each naming the host, channel, policy or edge at fault.
#
# For the same input, `resolved` is the same JSON as the reference implementation's, and a fleet
# it refuses is refused here for the same reason (docs/nixos.md, "The fleet as Nix code").
# Deliberate differences: no module system (no `imports`, `mkIf`, `mkDefault`: plain values only,
# which keeps this file evaluable without nixpkgs), messages that name the edge or wave at fault,
# and a few extra warnings; `mergeFleets` also concatenates revocations and bootstrap nonces.
#
# Only builtins plus `lib.warn` are used, so .ci/run evaluates this file with a two-line stand-in
# for nixpkgs' lib (nix/tests/lib-shim.nix); the flake passes nixpkgs' own lib.
#
# The output is canonicalized (JCS) and signed: integers only, no floats, no derivations; every
# list is in a defined order (attribute names sort, host lists follow them).
{ lib }:
let
  inherit (builtins)
    all
    any
    attrNames
    concatMap
    concatStringsSep
    elem
    filter
    foldl'
    genList
    isAttrs
    isList
    isString
    length
    listToAttrs
    mapAttrs
    match
    toJSON
    ;

  optional = cond: x: if cond then [ x ] else [ ];
  imap0 = f: xs: genList (i: f i (builtins.elemAt xs i)) (length xs);
  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  last = xs: builtins.elemAt xs (length xs - 1);
  init = xs: genList (builtins.elemAt xs) (length xs - 1);
  max = a: b: if a > b then a else b;
  replace = builtins.replaceStrings;

  # ---------------------------------------------------------------------------------------------
  # Rendering values in messages
  # ---------------------------------------------------------------------------------------------

  keywords = [ "assert" "else" "if" "in" "inherit" "let" "or" "rec" "then" "with" ];
  # An attribute name as Nix source would spell it.
  nixName =
    n:
    if match "[a-zA-Z_][a-zA-Z0-9_'-]*" n != null && !elem n keywords then n else replace [ "$" ] [ "\\$" ] (toJSON n);

  # `lib.generators.toPretty { }`, rewritten: the evidence of a failed compliance control reads
  # the same as in the reference's messages.
  pretty =
    indent: v:
    let
      inner = indent + "  ";
      open = "\n" + inner;
      close = "\n" + indent;
    in
    if builtins.isInt v then
      toString v
    else if builtins.isFloat v then
      toJSON v
    else if isString v then
      prettyString indent v
    else if v == true then
      "true"
    else if v == false then
      "false"
    else if v == null then
      "null"
    else if builtins.isPath v then
      toString v
    else if isList v then
      if v == [ ] then "[ ]" else "[" + open + concatStringsSep open (map (pretty inner) v) + close + "]"
    else if builtins.isFunction v then
      let
        args = builtins.functionArgs v;
      in
      if args == { } then
        "<function>"
      else
        "<function, args: {${concatStringsSep ", " (map (n: if args.${n} then n + "?" else n) (attrNames args))}}>"
    else if v == { } then
      "{ }"
    else if (v.type or null) == "derivation" then
      "<derivation ${v.name or "???"}>"
    else
      "{" + open + concatStringsSep open (map (n: "${nixName n} = ${pretty inner v.${n}};") (attrNames v)) + close + "}";

  prettyString =
    indent: s:
    let
      lines = filter (x: !isList x) (builtins.split "\n" s);
      single = "\"" + concatStringsSep "\\n" (map (replace [ "\\" "\"" "\${" ] [ "\\\\" "\\\"" "\\\${" ]) lines) + "\"";
      escaped = map (replace [ "\${" "''" ] [ "''\${" "'''" ]) lines;
      open = "\n" + indent + "  ";
    in
    if length lines > 1 then
      "''" + open + concatStringsSep open (init escaped) + (if last escaped == "" then "\n" + indent else open + last escaped) + "''"
    else
      single;

  # A value, briefly, for "expected X, got Y".
  describe =
    v:
    let
      t = builtins.typeOf v;
      short = s: if builtins.stringLength s > 60 then builtins.substring 0 57 s + "..." else s;
    in
    if t == "string" then
      "the string ${short (toJSON v)}"
    else if t == "int" || t == "float" then
      "the number ${toJSON v}"
    else if t == "bool" then
      "the boolean ${toJSON v}"
    else if t == "null" then
      "null"
    else if t == "path" then
      "the path ${toString v}"
    else if t == "set" then
      "an attribute set"
    else if t == "list" then
      "a list"
    else if t == "lambda" then
      "a function"
    else
      "a ${t}";

  # ---------------------------------------------------------------------------------------------
  # Option types: each checks a value at a path and returns { errors; value } with defaults filled
  # in. Never forces more than it checks: a host's `configuration` stays unevaluated here.
  # ---------------------------------------------------------------------------------------------

  ok = value: {
    errors = [ ];
    inherit value;
  };
  at = path: name: if path == "" then nixName name else "${path}.${nixName name}";

  # mkIf, mkDefault, mkForce, mkMerge, mkOrder, mkOverride... (module-system properties).
  isProperty = v: isAttrs v && elem (v._type or null) [ "if" "merge" "override" "order" "definition" ];

  # `accepts` is the shape test alone (a string, a list...), which `nullOr` words its error with.
  mkType = description: accepts: check: {
    inherit description accepts;
    check =
      path: v:
      if isProperty v then
        {
          errors = [
            "${path}: module-system properties (mkIf, mkDefault, mkForce, mkMerge, ...) are not supported in a fleet definition; write the plain value"
          ];
          value = v;
        }
      else
        check path v;
  };

  scalar =
    description: pred:
    mkType description pred (
      path: v:
      if pred v then
        ok v
      else
        {
          errors = [ "${path}: expected ${description}, got ${describe v}" ];
          value = v;
        }
    );

  types = rec {
    str = scalar "a string" isString;
    int = scalar "an integer" builtins.isInt;
    bool = scalar "a boolean" builtins.isBool;
    # Free-form attribute set, kept verbatim.
    attrs = scalar "an attribute set" isAttrs;
    # An attribute set kept verbatim (members not named here pass through untouched), whose
    # members named in `fields` are type-checked when present; absent ones stay absent.
    openAttrs =
      fields:
      mkType "an attribute set" isAttrs (
        path: v:
        if !isAttrs v then
          {
            errors = [ "${path}: expected an attribute set, got ${describe v}" ];
            value = v;
          }
        else
          {
            errors = concatMap (n: (fields.${n}.check (at path n) v.${n}).errors) (
              filter (n: v ? ${n}) (attrNames fields)
            );
            value = v;
          }
      );
    # Anything at all (a host's nixosConfiguration, checked by an invariant instead).
    anything = {
      description = "anything";
      accepts = _: true;
      check = _path: ok;
    };
    enum = values: scalar "one of ${concatStringsSep ", " (map toJSON values)}" (v: isString v && elem v values);

    nullOr =
      t:
      mkType "null or ${t.description}" (v: v == null || t.accepts v) (
        path: v:
        if v == null then
          ok null
        else if t.accepts v || isProperty v then
          t.check path v
        else
          {
            errors = [ "${path}: expected null or ${t.description}, got ${describe v}" ];
            value = v;
          }
      );

    listOf =
      t:
      mkType "a list" isList (
        path: v:
        if !isList v then
          {
            errors = [ "${path}: expected a list, got ${describe v}" ];
            value = v;
          }
        else
          let
            results = imap0 (i: t.check "${path}[${toString i}]") v;
          in
          {
            errors = concatMap (r: r.errors) results;
            value = map (r: r.value) results;
          }
      );

    attrsOf =
      t:
      mkType "an attribute set" isAttrs (
        path: v:
        if !isAttrs v then
          {
            errors = [ "${path}: expected an attribute set, got ${describe v}" ];
            value = v;
          }
        else
          let
            results = mapAttrs (n: t.check (at path n)) v;
          in
          {
            errors = concatMap (n: results.${n}.errors) (attrNames results);
            value = mapAttrs (_: r: r.value) results;
          }
      );

    # A fixed set of options (a submodule). `fields.<name> = required type` or `optional type default`.
    record =
      fields:
      mkType "an attribute set" isAttrs (
        path: v:
        if !isAttrs v then
          {
            errors = [ "${path}: expected an attribute set, got ${describe v}" ];
            value = v;
          }
        else
          let
            known = attrNames fields;
            unknown = filter (n: !(fields ? ${n})) (attrNames v);
            results = mapAttrs (
              n: f:
              if v ? ${n} then
                f.type.check (at path n) v.${n}
              else if f ? default then
                f.type.check (at path n) f.default
              else
                {
                  errors = [ "${at path n}: required, but not set" ];
                  value = null;
                }
            ) fields;
          in
          {
            errors =
              map (n: "${at path n}: no such option (the options here are: ${concatStringsSep ", " known})") unknown
              ++ concatMap (n: results.${n}.errors) known;
            value = mapAttrs (_: r: r.value) results;
          }
      );
  };

  required = type: { inherit type; };
  optional' = type: default: { inherit type default; };

  # ---------------------------------------------------------------------------------------------
  # The fleet's options (spec/nix-and-operator-ux.md §3)
  # ---------------------------------------------------------------------------------------------

  knownFrameworks = [
    "anssi-bp028"
    "nis2"
    "dora"
    "iso27001"
  ];

  schema =
    with types;
    rec {
      # Host selector. Precedence: `not`, else `and`, else any of the other fields (OR).
      selector = record {
        tags = optional' (listOf str) [ ]; # the host has ALL of these tags
        tagsAny = optional' (listOf str) [ ]; # the host has ANY of these tags
        hosts = optional' (listOf str) [ ];
        channel = optional' (nullOr str) null;
        all = optional' bool false;
        and = optional' (listOf selector) [ ]; # the host matches every sub-selector
        not = optional' (nullOr selector) null; # the host does not match the sub-selector
      };

      # A commit pin: build the host from this commit instead of the release commit.
      # `commit` must be a full 40-character id (`nix build <url>?rev=<commit>#…`).
      pin = record {
        commit = required str;
        reason = required str;
        expiresAt = optional' (nullOr str) null; # RFC 3339; `nixfleet release` drops expired pins
      };

      host = record {
        system = required str;
        configuration = required anything; # a nixosConfiguration
        tags = optional' (listOf str) [ ];
        channel = required str;
        pubkey = optional' (nullOr str) null; # the host's "ssh-ed25519 AAAA…" key; needed to enrol
        pin = optional' (nullOr pin) null;
      };

      tag = record {
        description = optional' str "";
        pin = optional' (nullOr pin) null;
      };

      compliance = record {
        mode = optional' (enum [
          "disabled"
          "permissive"
          "enforce"
        ]) "enforce";
        frameworks = optional' (listOf str) [ ];
      };

      channel = record {
        description = optional' str "";
        pin = optional' (nullOr pin) null;
        rolloutPolicy = required str;
        reconcileIntervalMinutes = optional' int 30;
        signingIntervalMinutes = optional' int 60;
        # Minutes a signed release stays acceptable after signedAt; at least 2 × signing interval.
        freshnessWindow = required int;
        compliance = optional' compliance { };
      };

      wave = record {
        selector = required selector;
        soakMinutes = optional' int 0;
      };

      rolloutPolicy = record {
        strategy = required (enum [
          "canary"
          "all-at-once"
          "staged"
        ]);
        waves = optional' (listOf wave) [ ];
        # Kept verbatim as the reference does; NixFleet's own members are type-checked.
        # `deferredCountsAsDone = true`: a host whose switch waits for a reboot (Deferred) counts
        # as done for wave promotion and edges (default: only hosts running the new system do).
        healthGate = optional' (openAttrs {
          deferredCountsAsDone = bool;
          sustainedFailureSecs = int;
        }) { };
        onHealthFailure = optional' (enum [
          "halt"
          "rollback-and-halt"
        ]) "rollback-and-halt";
      };

      # `gated` waits until `gates` is done, within one rollout (both on one channel).
      edge = record {
        gated = required str;
        gates = required str;
        reason = optional' str "";
      };

      # Channel `gated` opens a rollout only once channel `gates` converged.
      # `before` (= gates) and `after` (= gated) are the deprecated spellings.
      channelEdge = record {
        gates = optional' (nullOr str) null;
        gated = optional' (nullOr str) null;
        before = optional' (nullOr str) null;
        after = optional' (nullOr str) null;
        reason = optional' str "";
      };

      disruptionBudget = record {
        selector = required selector;
        maxInFlight = optional' (nullOr int) null;
        maxInFlightPct = optional' (nullOr int) null;
      };

      revocation = record {
        hostname = required str;
        notBefore = required str; # RFC 3339: certificates issued before it are refused
        reason = optional' (nullOr str) null;
        revokedBy = optional' (nullOr str) null;
      };

      bootstrapNonce = record {
        nonce = required str;
        hostname = required str;
        expiresAt = required str;
        mintedAt = optional' (nullOr str) null;
        mintedBy = optional' (nullOr str) null;
      };

      fleet = record {
        hosts = optional' (attrsOf host) { };
        tags = optional' (attrsOf tag) { };
        channels = optional' (attrsOf channel) { };
        rolloutPolicies = optional' (attrsOf rolloutPolicy) { };
        edges = optional' (listOf edge) [ ];
        channelEdges = optional' (listOf channelEdge) [ ];
        disruptionBudgets = optional' (listOf disruptionBudget) [ ];
        complianceFrameworks = optional' (listOf str) knownFrameworks;
        revocations = optional' (listOf revocation) [ ];
        bootstrapNonces = optional' (listOf bootstrapNonce) [ ];
      };
    };

  fleetKeys = attrNames (schema.fleet.check "" { }).value;

  # ---------------------------------------------------------------------------------------------
  # Selectors and graphs
  # ---------------------------------------------------------------------------------------------

  matches =
    sel: name: host:
    if sel.not != null then
      !(matches sel.not name host)
    else if sel.and != [ ] then
      all (s: matches s name host) sel.and
    else
      sel.all
      || elem name sel.hosts
      || (sel.channel != null && host.channel == sel.channel)
      || (sel.tags != [ ] && all (t: elem t host.tags) sel.tags)
      || any (t: elem t host.tags) sel.tagsAny;

  # Names of the hosts a selector picks, in attribute-name order.
  select = hosts: sel: filter (n: matches sel n hosts.${n}) (attrNames hosts);

  selectorDefaults = (schema.selector.check "" { }).value;

  # Selectors in a wave or budget that say more than is used, or name hosts that do not exist.
  selectorWarnings =
    hosts: where: sel:
    let
      given = filter (n: sel.${n} != selectorDefaults.${n}) (attrNames sel);
      besides = n: filter (m: m != n) given;
      ignored =
        n:
        "${where} sets `${n}` together with ${concatStringsSep ", " (besides n)}; only `${n}` is used (precedence: not, then and, then the other fields)";
    in
    optional (sel.not != null && besides "not" != [ ]) (ignored "not")
    ++ optional (sel.not == null && sel.and != [ ] && besides "and" != [ ]) (ignored "and")
    ++ map (h: "${where} names unknown host '${h}'") (filter (h: !(hosts ? ${h})) sel.hosts)
    ++ (if sel.not != null then selectorWarnings hosts "${where}.not" sel.not else [ ])
    ++ concatMap (i: selectorWarnings hosts "${where}.and[${toString i}]" (builtins.elemAt sel.and i)) (
      genList (i: i) (length sel.and)
    );

  # The first cycle of a directed graph given as [{ from; to; }], as a path [a b … a], or null.
  findCycle =
    arcs:
    let
      next = foldl' (acc: a: acc // { ${a.from} = (acc.${a.from} or [ ]) ++ [ a.to ]; }) { } arcs;
      nodes = unique (concatMap (a: [
        a.from
        a.to
      ]) arcs);
      fromNode =
        x: xs:
        if xs == [ ] then
          [ ]
        else if builtins.head xs == x then
          xs
        else
          fromNode x (builtins.tail xs);
      visit =
        stack: state: node:
        if state.cycle != null || state.done ? ${node} then
          state
        else if elem node stack then
          state // { cycle = fromNode node stack ++ [ node ]; }
        else
          let
            after = foldl' (visit (stack ++ [ node ])) state (next.${node} or [ ]);
          in
          if after.cycle != null then after else after // { done = after.done // { ${node} = true; }; };
    in
    (foldl' (visit [ ]) {
      cycle = null;
      done = { };
    } nodes).cycle;

  # ---------------------------------------------------------------------------------------------
  # Invariants, warnings, resolution
  # ---------------------------------------------------------------------------------------------

  validConfiguration =
    c: isAttrs c && c ? config && c.config ? system && c.config.system ? build && c.config.system.build ? toplevel;

  # Names of the host's static (or static-and-runtime) compliance controls whose build-time
  # evidence failed: config.compliance.evidence.probes.<name>.{type, staticEvidence.passed}.
  failedStaticControls =
    host:
    let
      probes = host.configuration.config.compliance.evidence.probes or { };
    in
    filter (
      p:
      elem (probes.${p}.type or "runtime") [
        "static"
        "both"
      ]
      && (probes.${p}.staticEvidence or null) != null
      && (probes.${p}.staticEvidence.passed or true) == false
    ) (attrNames probes);

  evidenceOf =
    host: p: pretty "" (host.configuration.config.compliance.evidence.probes.${p}.staticEvidence.evidence or { });

  normalizeChannelEdge = e: {
    gates = if e.gates != null then e.gates else e.before;
    gated = if e.gated != null then e.gated else e.after;
    inherit (e) reason;
  };

  pinnedTags = cfg: host: filter (t: (cfg.tags.${t}.pin or null) != null) (unique host.tags);

  invariantErrors =
    cfg:
    let
      hostNames = attrNames cfg.hosts;
      channelNames = attrNames cfg.channels;
      hostsOn = modes: filter (n: elem (cfg.channels.${cfg.hosts.${n}.channel}.compliance.mode or null) modes) hostNames;

      hostChannel = concatMap (
        n:
        optional (!(cfg.channels ? ${cfg.hosts.${n}.channel}))
          "host '${n}' references unknown channel '${cfg.hosts.${n}.channel}'"
      ) hostNames;

      channelPolicy = concatMap (
        n:
        optional (!(cfg.rolloutPolicies ? ${cfg.channels.${n}.rolloutPolicy}))
          "channel '${n}' references unknown rollout policy '${cfg.channels.${n}.rolloutPolicy}'"
      ) channelNames;

      edges = concatMap (
        { i, e }:
        let
          gated = cfg.hosts.${e.gated} or null;
          gates = cfg.hosts.${e.gates} or null;
        in
        optional (gated == null) "edges[${i}].gated references unknown host '${e.gated}'"
        ++ optional (gates == null) "edges[${i}].gates references unknown host '${e.gates}'"
        ++ optional (gated != null && gates != null && gated.channel != gates.channel)
          "edges[${i}]: edge.gated '${e.gated}' (channel '${gated.channel}') and edge.gates '${e.gates}' (channel '${gates.channel}') are on different channels; use channelEdges for cross-channel ordering"
      ) (imap0 (i: e: { i = toString i; inherit e; }) cfg.edges);

      channelEdgeShape = concatMap (
        { i, e }:
        optional (e.gates != null && e.before != null)
          "channelEdges[${i}] sets both `gates` and `before` - pick one (canonical: `gates`)"
        ++ optional (e.gated != null && e.after != null)
          "channelEdges[${i}] sets both `gated` and `after` - pick one (canonical: `gated`)"
        ++ optional (e.gates == null && e.before == null) "channelEdges[${i}] must set `gates` (or legacy alias `before`)"
        ++ optional (e.gated == null && e.after == null) "channelEdges[${i}] must set `gated` (or legacy alias `after`)"
      ) (imap0 (i: e: { i = toString i; inherit e; }) cfg.channelEdges);

      channelEdgesNormalized = map normalizeChannelEdge cfg.channelEdges;
      channelEdges = concatMap (
        { i, e }:
        optional (e.gates != null && !(cfg.channels ? ${e.gates}))
          "channelEdges[${i}].gates references unknown channel '${e.gates}'"
        ++ optional (e.gated != null && !(cfg.channels ? ${e.gated}))
          "channelEdges[${i}].gated references unknown channel '${e.gated}'"
        ++ optional (e.gates != null && e.gates == e.gated)
          "channelEdges[${i}] has gates == gated ('${e.gates}'); use a wave-staged policy for intra-channel ordering instead"
      ) (imap0 (i: e: { i = toString i; inherit e; }) channelEdgesNormalized);

      configuration = concatMap (
        n:
        optional (!validConfiguration cfg.hosts.${n}.configuration)
          "host '${n}' configuration is not a valid nixosConfiguration (missing config.system.build.toplevel)"
      ) hostNames;

      frameworks = concatMap (
        c:
        map (f: "channel '${c}' references unknown compliance framework '${f}' (known: ${concatStringsSep ", " cfg.complianceFrameworks})") (
          filter (f: !elem f cfg.complianceFrameworks) cfg.channels.${c}.compliance.frameworks
        )
      ) channelNames;

      # `gated` waits for `gates`: the path reads "a waits for b waits for … a".
      hostCycle = findCycle (map (e: { from = e.gated; to = e.gates; }) cfg.edges);
      hostCycles = optional (hostCycle != null)
        "edges form a cycle (${concatStringsSep " -> " hostCycle}, each gated by the next); the DAG invariant is violated";
      channelCycle = findCycle (
        map (e: { from = e.gated; to = e.gates; }) (filter (e: e.gates != null && e.gated != null) channelEdgesNormalized)
      );
      channelCycles = optional (channelCycle != null)
        "channelEdges form a cycle (${concatStringsSep " -> " channelCycle}, each gated by the next); cross-channel ordering must be a DAG";

      freshness = concatMap (
        n:
        let
          c = cfg.channels.${n};
        in
        optional (c.freshnessWindow < 2 * c.signingIntervalMinutes)
          "channel '${n}': freshnessWindow (${toString c.freshnessWindow}) must be ≥ 2 × signingIntervalMinutes (${toString c.signingIntervalMinutes})"
      ) channelNames;

      staticCompliance = concatMap (
        n:
        let
          h = cfg.hosts.${n};
        in
        map (p: "host '${n}' (channel '${h.channel}', enforce): static control '${p}' failed - ${evidenceOf h p}") (
          failedStaticControls h
        )
      ) (filter (n: validConfiguration cfg.hosts.${n}.configuration) (hostsOn [ "enforce" ]));

      pinConflicts = concatMap (
        n:
        let
          h = cfg.hosts.${n};
          tags = pinnedTags cfg h;
        in
        optional (h.pin == null && length tags > 1)
          "host '${n}' is in multiple tags with pins (${concatStringsSep ", " tags}) - disambiguate by lifting one of these pins to a host-level declaration on '${n}', or removing the pin from one of the tags"
      ) hostNames;
    in
    hostChannel
    ++ channelPolicy
    ++ edges
    ++ channelEdgeShape
    ++ channelEdges
    ++ configuration
    ++ frameworks
    ++ hostCycles
    ++ channelCycles
    ++ freshness
    ++ staticCompliance
    ++ pinConflicts;

  warningsOf =
    cfg:
    let
      hostNames = attrNames cfg.hosts;
      policyNames = attrNames cfg.rolloutPolicies;

      emptyWaves = concatMap (
        p:
        concatMap (
          i:
          optional (select cfg.hosts (builtins.elemAt cfg.rolloutPolicies.${p}.waves i).selector == [ ])
            "rollout policy '${p}' has a wave with a selector that resolves to zero hosts (rolloutPolicies.${nixName p}.waves[${toString i}])"
        ) (genList (i: i) (length cfg.rolloutPolicies.${p}.waves))
      ) policyNames;

      tightBudgets = concatMap (
        b:
        let
          n = length (select cfg.hosts b.selector);
          effective =
            if b.maxInFlight != null then
              b.maxInFlight
            else if b.maxInFlightPct != null then
              max 1 (n * b.maxInFlightPct / 100)
            else
              n;
        in
        optional (n >= 10 && effective == 1)
          "disruption budget with maxInFlight=1 on ${toString n} hosts will take long to complete"
      ) cfg.disruptionBudgets;

      permissive = concatMap (
        n:
        let
          h = cfg.hosts.${n};
        in
        map (p: "[compliance:permissive] host '${n}' (channel '${h.channel}'): static control '${p}' failed - ${evidenceOf h p}") (
          failedStaticControls h
        )
      ) (filter (n: cfg.channels.${cfg.hosts.${n}.channel}.compliance.mode == "permissive") hostNames);

      selectors =
        concatMap (
          p:
          concatMap (i: selectorWarnings cfg.hosts "rolloutPolicies.${nixName p}.waves[${toString i}].selector" (builtins.elemAt cfg.rolloutPolicies.${p}.waves i).selector) (
            genList (i: i) (length cfg.rolloutPolicies.${p}.waves)
          )
        ) policyNames
        ++ concatMap (i: selectorWarnings cfg.hosts "disruptionBudgets[${toString i}].selector" (builtins.elemAt cfg.disruptionBudgets i).selector) (
          genList (i: i) (length cfg.disruptionBudgets)
        );

      # Waves are resolved here, budgets only when a rollout opens, by the release tool:
      # nixfleet's honours `and`/`not`, the reference implementation's knows the plain fields alone.
      composedBudgets = concatMap (
        i:
        let
          sel = (builtins.elemAt cfg.disruptionBudgets i).selector;
        in
        optional (sel.and != [ ] || sel.not != null)
          "disruptionBudgets[${toString i}].selector uses `and`/`not`: a budget keeps its selector until a rollout opens; nixfleet resolves `and`/`not` then, but the reference implementation's tools know only tags, tagsAny, hosts, channel and all, so with them this budget would not cover the hosts it means"
      ) (genList (i: i) (length cfg.disruptionBudgets));

      pinWhere =
        concatMap (n: optional (cfg.hosts.${n}.pin != null) { where = "hosts.${nixName n}.pin"; pin = cfg.hosts.${n}.pin; }) hostNames
        ++ concatMap (n: optional (cfg.tags.${n}.pin != null) { where = "tags.${nixName n}.pin"; pin = cfg.tags.${n}.pin; }) (attrNames cfg.tags)
        ++ concatMap (n: optional (cfg.channels.${n}.pin != null) { where = "channels.${nixName n}.pin"; pin = cfg.channels.${n}.pin; }) (attrNames cfg.channels);
      shortPins = map (p: "${p.where}.commit '${p.pin.commit}' is not a full 40-character commit id; building a pinned host needs one") (
        filter (p: match "[0-9a-f]{40}" p.pin.commit == null) pinWhere
      );
    in
    emptyWaves ++ tightBudgets ++ permissive ++ selectors ++ composedBudgets ++ shortPins;

  # Pin precedence: the host's own, else its (single) pinned tag's, else its channel's.
  pinOf =
    cfg: host:
    let
      tags = pinnedTags cfg host;
    in
    if host.pin != null then
      host.pin
    else if tags != [ ] then
      cfg.tags.${builtins.head tags}.pin
    else
      cfg.channels.${host.channel}.pin or null;

  resolve = cfg: {
    schemaVersion = 1;
    # signedAt, ciCommit (and signatureAlgorithm) are stamped by `nixfleet release`.
    meta = {
      schemaVersion = 1;
      signedAt = null;
      ciCommit = null;
    };
    hosts = mapAttrs (
      _: h:
      let
        pin = pinOf cfg h;
      in
      {
        inherit (h)
          system
          tags
          channel
          pubkey
          ;
        # Injected by `nixfleet release` from configuration.config.system.build.toplevel.
        closureHash = null;
      }
      // (if pin != null then { inherit pin; } else { })
    ) cfg.hosts;
    channels = mapAttrs (_: c: {
      inherit (c)
        rolloutPolicy
        reconcileIntervalMinutes
        signingIntervalMinutes
        freshnessWindow
        compliance
        ;
    }) cfg.channels;
    rolloutPolicies = cfg.rolloutPolicies;
    # Waves are resolved to host lists here; disruption budgets keep their selector (resolved
    # when a rollout opens).
    waves = mapAttrs (
      _: c:
      map (w: {
        hosts = select cfg.hosts w.selector;
        inherit (w) soakMinutes;
      }) cfg.rolloutPolicies.${c.rolloutPolicy}.waves
    ) cfg.channels;
    edges = cfg.edges;
    channelEdges = map normalizeChannelEdge cfg.channelEdges;
    disruptionBudgets = map (b: { inherit (b) selector maxInFlight maxInFlightPct; }) cfg.disruptionBudgets;
  };

  bullets = title: errors: throw "${title}:\n  - ${concatStringsSep "\n  - " errors}";

  mkFleet =
    input:
    let
      checked =
        if isAttrs input && !isProperty input then
          schema.fleet.check "" input
        else
          {
            errors = [
              "mkFleet takes the fleet definition as an attribute set (hosts, channels, rolloutPolicies, ...), got ${describe input}"
            ];
            value = { };
          };
      cfg = checked.value;
      valid = x: if checked.errors == [ ] then x else bullets "nixfleet: invalid fleet definition" checked.errors;
      resolved = valid (
        let
          errors = invariantErrors cfg;
        in
        if errors != [ ] then
          bullets "nixfleet invariant violations" errors
        else
          builtins.seq (foldl' (acc: msg: lib.warn msg acc) null (warningsOf cfg)) (resolve cfg)
      );
    in
    cfg
    // {
      inherit resolved;
      revocations = valid cfg.revocations;
      bootstrapNonces = valid cfg.bootstrapNonces;
    };

  # hosts, tags, channels: merged strictly (a name defined twice is an error); rolloutPolicies:
  # the later input wins; lists are concatenated; complianceFrameworks: the union of those given.
  mergeFleets =
    inputs:
    let
      numbered = imap0 (i: x: {
        n = i + 1;
        x = if isAttrs x then x else throw "mergeFleets: input ${toString (i + 1)} is ${describe x}, not a fleet definition";
      }) inputs;
      strict =
        key: kind:
        let
          owners = foldl' (
            acc: { n, x }: foldl' (a: name: a // { ${name} = (a.${name} or [ ]) ++ [ n ]; }) acc (attrNames (x.${key} or { }))
          ) { } numbered;
          clashes = filter (name: length owners.${name} > 1) (attrNames owners);
        in
        {
          errors = map (
            name: "${kind} '${name}' is defined in multiple inputs (${concatStringsSep ", " (map toString owners.${name})})"
          ) clashes;
          value = foldl' (acc: { x, ... }: acc // (x.${key} or { })) { } numbered;
        };
      merged = {
        hosts = strict "hosts" "host";
        tags = strict "tags" "tag";
        channels = strict "channels" "channel";
      };
      clashes = concatMap (k: merged.${k}.errors) [ "hosts" "tags" "channels" ];
      checkedSet =
        key:
        if clashes == [ ] then
          merged.${key}.value
        else if length clashes == 1 then
          throw "mergeFleets: ${builtins.head clashes}"
        else
          bullets "mergeFleets: conflicting definitions" clashes;
      concatKey = key: concatMap ({ x, ... }: x.${key} or [ ]) numbered;
      frameworks = concatKey "complianceFrameworks";
      # Options mkFleet does not know are passed on, so it names them.
      extra = foldl' (acc: { x, ... }: acc // removeAttrs x fleetKeys) { } numbered;
    in
    mkFleet (
      extra
      // {
        hosts = checkedSet "hosts";
        tags = checkedSet "tags";
        channels = checkedSet "channels";
        rolloutPolicies = foldl' (acc: { x, ... }: acc // (x.rolloutPolicies or { })) { } numbered;
        edges = concatKey "edges";
        channelEdges = concatKey "channelEdges";
        disruptionBudgets = concatKey "disruptionBudgets";
        revocations = concatKey "revocations";
        bootstrapNonces = concatKey "bootstrapNonces";
      }
      // (if frameworks != [ ] then { complianceFrameworks = unique frameworks; } else { })
    );

  # Stamps `meta` of a resolved fleet (what `nixfleet release` does before signing).
  # Without signatureAlgorithm the field stays absent, which means ed25519.
  withSignature =
    {
      signedAt,
      ciCommit,
      signatureAlgorithm ? null,
    }:
    resolved:
    resolved
    // {
      meta =
        resolved.meta
        // {
          inherit signedAt ciCommit;
        }
        // (if signatureAlgorithm != null then { inherit signatureAlgorithm; } else { });
    };
in
{
  inherit mkFleet mergeFleets withSignature;
}
