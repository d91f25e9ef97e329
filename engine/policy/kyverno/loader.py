"""Kyverno `verifyImages` loading: Kyverno's own validation and pullguard's lints, into a KyvernoPolicySet.

Measured from kyverno/kyverno (main, 2026):
- `api/kyverno/v1/image_verification_types.go`: fields, defaults (`type: Cosign`,
  `required`/`mutateDigest`/`verifyDigest`/`useCache` true) and the `Validate` messages.
- `pkg/validation/policy/validate.go`: the failure action that `mutateDigest` is checked against
  (entry `failureAction`, else `spec.validationFailureAction`, whose CRD default is Audit; an
  entry's `failureAction` carries over to the later entries of the same rule, as Kyverno's loop
  does).
- `pkg/engine/internal/imageverifier.go`, `pkg/engine/utils/image.go`: every verifyImages entry
  whose `imageReferences` match (go-wildcard over ImageInfo.String()) applies; one whose
  `skipImageReferences` also match skips the image; `attestors[].count` (nil or 0 = all entries,
  several keys in one `publicKeys` count as separate entries); keys, certificates and keyless
  attestors default to Rekor `https://rekor.sigstore.dev` with `ignoreTlog: false`.
- `pkg/engine/handlers/validation/validate_image.go`: `verifyDigest` fails an image without a
  digest ("missing digest for <image>") unless `mutateDigest` added one.

Rule ids are `<policy>/<rule>#<entry>`; `rule_index` is the 0-based position of the entry
among all verifyImages entries in the file (the outline's index).

Images of unknown origin are taken to run in a Pod: a rule applies when its `match` selects
Pod (or, with the image's kind known, that kind, or Pod through Kyverno's autogen for pod
controllers). `match` conditions other than kinds (names, namespaces, selectors, user info) and
preconditions cannot be known offline and are assumed to hold; an `exclude` applies only when it
is decided by kinds alone.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from ...diagnostics import Diagnostic, Severity
from ...reference import InvalidReference, parse_repository
from ...vocabulary import KeylessVerifier, PublicKeyVerifier
from ...yamlschema import Obj, Seq, SubtreeMemo, Walker, seq_items, string_map
from ...yamlsource import (
    Document,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    end_position,
    is_null,
    map_get,
    mapping_items,
    position,
)
from ..certificates import certificate_problem, certificate_verifier
from ..detect import KYVERNO_KINDS, is_kyverno
from . import lints as lint
from .conditions import Condition, ConditionBlock, check_template
from .evaluate import KyvernoPolicySet
from .match import AUTOGEN_ANNOTATION, AUTOGEN_CONTROLLERS, Filter, RuleInfo, contains_pod
from .operators import DEPRECATED, canonical
from .requirements import AttestationReq, AttestorReq, AttestorSetReq, VerifyEntry
from .schema import ATTESTATION, POLICY, VERIFY_IMAGES

API_VERSIONS = ("kyverno.io/v1", "kyverno.io/v2beta1")
KINDS = KYVERNO_KINDS
TYPES = ("Cosign", "SigstoreBundle", "Notary")
DEFAULT_REKOR_URL = "https://rekor.sigstore.dev"
# keyless.additionalExtensions Kyverno compares with the Fulcio certificate (cosign's CheckOpts)
FULCIO_EXTENSIONS = ("githubWorkflowTrigger", "githubWorkflowSha", "githubWorkflowName", "githubWorkflowRepository",
                     "githubWorkflowRef")
SIGNATURE_ALGORITHMS = ("", "sha224", "sha256", "sha384", "sha512")
# Kyverno's words, typographic quotes included (api/kyverno/v1/image_verification_types.go).
AUDIT_MUTATE_DIGEST = "mutateDigest must be set to false for \u2018Audit\u2019 failure action"
# pkg/validation/policy/validate.go validateWildcard, for a kinds list holding "*" (the first
# of the three that holds; the background text ends with a space in Kyverno, dropped here).
WILDCARD_BACKGROUND = ("wildcard policy not allowed in background mode. Set spec.background=false to disable "
                       "background mode for this policy rule")
WILDCARD_MANY_KINDS = "wildcard policy can not deal with more than one kind"
WILDCARD_RULE_TYPE = "wildcard policy does not support rule type"
# validate.go validateRuleImageExtractorsJMESPath
EXTRACTOR_JMESPATH = "jmespath may not be used in an image extractor when mutating digests with verify images"

Pos = tuple[int, int]


# --- detection and loading -----------------------------------------------------------------


detect = is_kyverno


class _CurrentEntry:
    """The index of the entry being read, which the walker gives its diagnostics. An object of
    its own: a lambda over the loader would make loader and walker a reference cycle, keeping
    the loader and every node it read alive until the cyclic collector runs."""

    __slots__ = ("index",)

    def __init__(self) -> None:
        self.index: int | None = None

    def __call__(self) -> int | None:
        return self.index


class _Loader:
    def __init__(self, path: str, errors_only: bool = False, memo: SubtreeMemo | None = None):
        self.path = path
        # Only what refuses the policy is wanted (simulate): the pattern lints, which can only
        # warn and are asked for every imageReferences pattern, are skipped.
        self.errors_only = errors_only
        self.diags: list[Diagnostic] = []
        self.current_entry = _CurrentEntry()
        self.walker = Walker(self.diags.append, self.current_entry, memo=memo)
        # With a memo, entries whose attestors are written alike share one decoded list (the
        # same Seq): what it makes of them is read once too. (id of the Seq, path, type, the
        # entry's signature repository) -> (the Seq, kept alive for its id; the attestor sets).
        self.shared_sets: dict[tuple[int, str, str, str], tuple[Seq, list[AttestorSetReq]]] | None = (
            {} if memo is not None else None)
        self.entry_count = 0
        self.rules: list[RuleInfo] = []
        # The fields of the entry being read that pullguard does not check (VerifyEntry.unsupported).
        self.unsupported: list[str] = []
        # The signature repository of the entry being read (`repository`, parsed), "" for the image's own.
        self.entry_repository = ""
        self.background = True  # the policy's spec.background (BackgroundProcessingEnabled)

    def diag(self, severity: Severity, code: str, message: str, pos: Pos | None, fix: str | None = None,
             end: Pos | None = None) -> None:
        self.walker.diag(severity, code, message, pos, fix, end)

    # -- documents ------------------------------------------------------------------------

    def document(self, doc: Document) -> None:
        root = doc.root
        if root is None:
            return
        obj = self.walker.obj(POLICY, root, "policy document")
        if obj is None:
            return
        api = obj.get("apiVersion")
        if api not in API_VERSIONS:
            self.diag("error", "unsupported-api-version",
                      f"apiVersion '{api}' is not served for {obj.get('kind')}; expected 'kyverno.io/v1'",
                      obj.value_pos("apiVersion"), "write 'apiVersion: kyverno.io/v1'")
        elif api == "kyverno.io/v2beta1":
            self.diag("warning", "kyverno-deprecated-api-version",
                      "kyverno.io/v2beta1 policies are deprecated; use kyverno.io/v1",
                      obj.value_pos("apiVersion"), "write 'apiVersion: kyverno.io/v1'")
        kind = obj.get("kind")
        meta: Obj | None = obj.get("metadata") if obj.has("metadata") else None
        name = meta.get("name") if meta else ""
        if not name:
            self.diag("error", "kyverno-name-required", "metadata.name is required",
                      meta.start if meta else obj.start, "add 'metadata: {name: <policy-name>}'")
            name = f"<document {doc.index}>"
        if kind == "ClusterPolicy" and meta and meta.get("namespace"):
            self.diag("error", "kyverno-clusterpolicy-namespace",
                      "A clusterpolicy should not have the namespace defined",
                      meta.key_pos("namespace"), "remove metadata.namespace, or make it a 'Policy'")
        annotations = meta.get("annotations") if meta else {}
        spec: Obj | None = obj.get("spec") if obj.has("spec") else None
        if spec is None:
            self.diag("error", "kyverno-spec-required", "spec is required", obj.start, "add 'spec: {rules: [...]}'")
            return
        self.spec(spec, name, annotations or {})

    def spec(self, spec: Obj, policy: str, annotations: Mapping[str, str]) -> None:
        vfa = spec.get("validationFailureAction")
        if vfa and vfa not in ("audit", "enforce", "Audit", "Enforce"):
            self._unsupported_value(spec, "validationFailureAction", vfa, ("Audit", "Enforce"))
        elif vfa in ("audit", "enforce"):
            self.diag("warning", "kyverno-deprecated-failure-action",
                      "Validation failure actions enforce/audit are deprecated, use Enforce/Audit instead.",
                      spec.value_pos("validationFailureAction"), f"write '{vfa.capitalize()}'")
        spec_audit = vfa not in ("Enforce", "enforce")  # CRD default Audit; Audit() is !Enforce()
        # BackgroundProcessingEnabled(): a null or absent spec.background is true
        self.background = bool(spec.get("background")) if spec.has("background") else True
        rules = seq_items(spec.get("rules"))
        autogen = self._autogen(spec, rules, annotations)
        names: set[str] = set()
        any_verify = False
        for rule in rules:
            rname = rule.get("name")
            if not rule.has("name") or rname == "":
                self.diag("error", "kyverno-rule-name-required", "rule name is required", rule.start,
                          "add 'name: <rule-name>'")
            elif len(rname) > 63:
                self.diag("error", "kyverno-rule-name-length",
                          f"rule name '{rname}' is longer than 63 characters", rule.value_pos("name"))
            if rname in names and rname:
                self.diag("error", "kyverno-rule-name-duplicate", f"Duplicate rule name: '{rname}'",
                          rule.value_pos("name"), "give each rule of a policy its own name")
            names.add(rname)
            ops = [k for k in ("mutate", "validate", "generate") if rule.has(k)]
            if rule.has("verifyImages") and seq_items(rule.get("verifyImages")):
                ops.append("verifyImages")
            if not ops:
                self.diag("error", "kyverno-rule-operation",
                          f"No operation defined in the rule '{rname}'.(supported operations: mutate,validate,generate,verifyImages)",
                          rule.start, "add 'verifyImages: [...]'")
            elif len(ops) > 1:
                self.diag("error", "kyverno-rule-operation",
                          f"Multiple operations defined in the rule '{rname}', only one operation "
                          "(mutate,validate,generate,verifyImages) is allowed per rule",
                          rule.key_pos(ops[1]), "split the rule in two")
            if rule.has("imageExtractors") and "verifyImages" not in ops:
                self.diag("error", "kyverno-image-extractors",
                          f"Invalid rule spec for rule '{rname}', imageExtractors can only be defined for verifyImages rule",
                          rule.key_pos("imageExtractors"))
            if "verifyImages" in ops:
                any_verify = True
                self.rule(rule, policy, rname or "<unnamed>", spec_audit, autogen)
        if not any_verify:
            self.diag("warning", "kyverno-nothing-to-verify",
                      f"policy '{policy}' has no verifyImages rules: nothing to verify",
                      spec.key_pos("rules") if spec.has("rules") else spec.start,
                      "add a rule with 'verifyImages: [{imageReferences: [...], attestors: [...]}]'")

    def _unsupported_value(self, obj: Obj, key: str, value: str, allowed: tuple[str, ...]) -> None:
        supported = ", ".join(f'"{a}"' for a in allowed)
        self.diag("error", "kyverno-unsupported-value", f'{key}: Unsupported value: "{value}": supported values: {supported}',
                  obj.value_pos(key), f"use one of {', '.join(allowed)}")

    # -- match / exclude, autogen -------------------------------------------------------------

    def _filters(self, block: Obj | None) -> tuple[bool, list[Filter]]:
        if block is None:
            return True, []

        def one(res: Obj | None, user: Obj) -> Filter:
            kinds = list(seq_items(res.get("kinds"))) if res else []
            other = []
            if res:
                for k in ("name", "names", "namespaces", "annotations", "selector", "namespaceSelector", "operations"):
                    if res.has(k) and res.get(k):
                        other.append(k)
            for k in ("roles", "clusterRoles", "subjects"):
                if user.has(k):
                    other.append(k)
            return Filter(kinds, other)

        if seq_items(block.get("any")):
            return True, [one(f.get("resources") if f.has("resources") else None, f) for f in seq_items(block.get("any"))]
        if seq_items(block.get("all")):
            return False, [one(f.get("resources") if f.has("resources") else None, f) for f in seq_items(block.get("all"))]
        res = block.get("resources") if block.has("resources") else None
        if res is None and not any(block.has(k) for k in ("roles", "clusterRoles", "subjects")):
            return True, []
        return True, [one(res, block)]

    def _autogen(self, spec: Obj, rules: list[Obj], annotations: Mapping[str, str]) -> frozenset[str]:
        """pkg/autogen/v1 CanAutoGen + the autogen-controllers annotation."""
        needed = False
        for rule in rules:
            if rule.has("generate"):
                return frozenset()
            for block_key in ("match", "exclude"):
                block = rule.get(block_key) if rule.has(block_key) else None
                if block is None:
                    continue
                descs = []
                if block.has("resources"):
                    descs.append(block.get("resources"))
                for k in ("any", "all"):
                    for f in seq_items(block.get(k)):
                        if f.has("resources"):
                            descs.append(f.get("resources"))
                for d in descs:
                    kinds = list(seq_items(d.get("kinds")))
                    if d.get("name") or seq_items(d.get("names")) or d.has("selector") or d.has("annotations"):
                        return frozenset()
                    if len(kinds) > 1 and contains_pod(kinds):
                        return frozenset()
                    if any(k in AUTOGEN_CONTROLLERS or k == "Pod" for k in kinds):
                        needed = True
        if not needed:
            return frozenset()
        value = annotations.get(AUTOGEN_ANNOTATION)
        if value is None:
            return AUTOGEN_CONTROLLERS
        if value.strip() in ("none", ""):
            return frozenset()
        if value.strip() == "all":
            return AUTOGEN_CONTROLLERS - {"CronJob"}
        return frozenset(v.strip() for v in value.split(",")) & AUTOGEN_CONTROLLERS

    # -- rules and entries ----------------------------------------------------------------

    def rule(self, rule: Obj, policy: str, rname: str, spec_audit: bool, autogen: frozenset[str]) -> None:
        match = rule.get("match") if rule.has("match") else None
        exclude = rule.get("exclude") if rule.has("exclude") else None
        match_any, match_filters = self._filters(match)
        exclude_any, exclude_filters = self._filters(exclude)
        if match is None:
            self.diag("error", "kyverno-match-required", f"rule '{rname}': match is required",
                      rule.start, "add 'match: {any: [{resources: {kinds: [Pod]}}]}'")
        elif not match_filters or any(not f.kinds for f in match_filters):
            self.diag("error", "kyverno-match-kinds",
                      "at least one element must be specified in a kind block, the kind attribute is mandatory "
                      "when working with the resources element",
                      rule.key_pos("match"), "add 'kinds: [Pod]' under match resources")
        match_kinds = [k for f in match_filters for k in f.kinds]
        exclude_kinds = [k for f in exclude_filters for k in f.kinds]
        self._wildcard_kinds(match, exclude)
        self._extractor_jmespath(rule)
        rule_autogen = autogen if contains_pod(match_kinds) and (not exclude_kinds or contains_pod(exclude_kinds)) else frozenset()
        info = RuleInfo(policy, rname, match_any, match_filters, exclude_any, exclude_filters, rule_autogen,
                        rule.has("preconditions"))
        rule_key = len(self.rules)
        self.rules.append(info)
        is_audit = spec_audit
        for i, entry in enumerate(seq_items(rule.get("verifyImages"))):
            self.current_entry.index = self.entry_count
            self.unsupported = []
            if rule.has("imageExtractors"):
                # custom image paths: which images Kyverno takes from a resource is not known here
                self.not_checked(rule, "imageExtractors", "imageExtractors", "custom image paths in resources")
            fa = entry.get("failureAction")
            if entry.has("failureAction"):
                if fa not in ("Audit", "Enforce"):
                    self._unsupported_value(entry, "failureAction", fa, ("Audit", "Enforce"))
                # Kyverno's loop keeps this value for the rule's later entries too
                is_audit = fa != "Enforce"
            built = self.entry(entry, policy, rname, i, rule_key, is_audit)
            info.entries.append(built)
            self.entry_count += 1
            self.current_entry.index = None

    def _wildcard_kinds(self, match: Obj | None, exclude: Obj | None) -> None:
        """validateWildcard over every kinds list of match and exclude (this rule verifies images)."""
        for block in (match, exclude):
            if block is None:
                continue
            resources = [block.get("resources")] if block.has("resources") else []
            for key in ("any", "all"):
                resources += [f.get("resources") for f in seq_items(block.get(key)) if f.has("resources")]
            for res in resources:
                kinds = list(seq_items(res.get("kinds"))) if isinstance(res, Obj) else []
                if "*" not in kinds:
                    continue
                if self.background:
                    message, fix = WILDCARD_BACKGROUND, "set 'spec.background: false', or name the kinds (Pod)"
                elif len(kinds) > 1:
                    message, fix = WILDCARD_MANY_KINDS, "keep '*' alone, or name the kinds without it"
                else:
                    message, fix = WILDCARD_RULE_TYPE, "name the kinds the rule verifies images of: 'kinds: [Pod]'"
                self.diag("error", "kyverno-wildcard-kinds", message, res.value_pos("kinds"), fix)

    def _extractor_jmespath(self, rule: Obj) -> None:
        """validateRuleImageExtractorsJMESPath: a jmesPath extractor and a digest-mutating entry."""
        extractors = rule.get("imageExtractors") if rule.has("imageExtractors") else None
        if not isinstance(extractors, MappingNode):
            return
        if not any(e.get("mutateDigest") if e.has("mutateDigest") else True for e in seq_items(rule.get("verifyImages"))):
            return
        for _, _, configs in mapping_items(extractors):
            for config in configs.value if isinstance(configs, SequenceNode) else ():
                jmes = map_get(config, "jmesPath")
                if isinstance(jmes, ScalarNode) and jmes.value:
                    self.diag("error", "kyverno-extractor-jmespath", EXTRACTOR_JMESPATH, position(jmes),
                              "set 'mutateDigest: false' on the rule's verifyImages entries, or drop the jmesPath")
                    return

    def entry(self, e: Obj, policy: str, rname: str, i: int, rule_key: int, is_audit: bool) -> VerifyEntry:
        d = self.diag
        self._entry_fields_not_checked(e)
        vtype = e.get("type") or "Cosign"
        self.entry_repository = self._signature_repository(e, "repository", vtype)
        mutate_digest = e.get("mutateDigest") if e.has("mutateDigest") else True
        verify_digest = e.get("verifyDigest") if e.has("verifyDigest") else True
        required = e.get("required") if e.has("required") else True
        use_cache = e.get("useCache") if e.has("useCache") else True
        if e.has("type") and vtype not in TYPES:
            self._unsupported_value(e, "type", vtype, TYPES)
        if is_audit and mutate_digest:
            where = e.key_pos("mutateDigest") if e.has("mutateDigest") else e.start
            d("error", "kyverno-mutate-digest-audit", AUDIT_MUTATE_DIGEST, where,
              "set 'mutateDigest: false', or 'failureAction: Enforce' on the entry "
              "(spec.validationFailureAction defaults to Audit, mutateDigest to true)")
        refs_seq = e.get("imageReferences")
        refs = list(seq_items(refs_seq))
        skips_seq = e.get("skipImageReferences")
        skips = list(seq_items(skips_seq))
        # Deprecated single-attestor fields (ImageVerification.Convert)
        for old, new in (("image", "imageReferences"), ("key", "attestors[].entries[].keys.publicKeys"),
                         ("issuer", "attestors[].entries[].keyless.issuer"), ("subject", "attestors[].entries[].keyless.subject"),
                         ("roots", "attestors[].entries[].keyless.roots"), ("annotations", "attestors[].entries[].annotations"),
                         ("additionalExtensions", "attestors[].entries[].keyless.additionalExtensions")):
            if e.has(old):
                d("warning", "kyverno-deprecated-field", f"'{old}' is deprecated; use '{new}'", e.key_pos(old),
                  f"move it to '{new}'")
        if e.get("image"):
            refs.append(e.get("image"))
        if not refs:
            d("error", "kyverno-image-reference-required", "An image reference is required", e.start,
              "add 'imageReferences: [\"ghcr.io/myorg/*\"]'")
        if not self.errors_only:
            self._pattern_lints(e, refs_seq, skips_seq)
        if vtype == "Notary":
            d("info", "kyverno-notary-unsupported", "type Notary is not supported for verification by pullguard",
              e.value_pos("type"), None)
        sets = self.attestor_sets(e.get("attestors"), "attestors", vtype)
        # Convert(): the deprecated key/issuer become one more attestor set
        if e.get("key") or e.get("issuer") or e.get("annotations"):
            legacy = self.legacy_attestor(e)
            if e.get("attestations"):
                pass  # Convert adds it to each attestation instead
            else:
                sets.append(legacy)
        attestations = []
        for j, a in enumerate(seq_items(e.get("attestations"))):
            if a.get("predicateType"):
                pt = a.get("predicateType")
                d("warning", "kyverno-deprecated-field",
                  f"predicateType has been deprecated use 'type: {pt}' instead of 'predicateType: {pt}'",
                  a.key_pos("predicateType"), f"write 'type: {pt}'")
            atype = a.get("type") or a.get("predicateType")
            if not atype:
                d("warning", "kyverno-attestation-type", f".attestations[{j}]: missing type", a.start,
                  "add 'type: <predicate type URI>', e.g. 'https://slsa.dev/provenance/v0.2'")
            asets = self.attestor_sets(a.get("attestors"), f"attestations[{j}].attestors", vtype)
            if e.get("key") or e.get("issuer") or e.get("annotations"):
                asets.append(self.legacy_attestor(e))
            if not asets:
                # Kyverno adds one empty attestor to fetch and check attestations: any keyless signer
                # of the trusted root (cosign with no identity to match)
                asets = [AttestorSetReq(None, [AttestorReq(
                    "keyless", f"attestations[{j}].attestors[0].entries[0]",
                    KeylessVerifier(match="wildcard", rekor_url=DEFAULT_REKOR_URL), detail="(any keyless signer)",
                    repository=self.entry_repository)])]
            blocks = self.conditions(a, f"attestations[{j}]")
            attestations.append(AttestationReq(f"attestations[{j}]", a.get("name"), atype or "", asets, blocks))
        if vtype == "Notary":
            for s in seq_items(e.get("attestors")):
                for entry in seq_items(s.get("entries")):
                    if entry.has("keyless"):
                        d("error", "kyverno-notary-keyless", "Keyless field is not allowed for type notary",
                          entry.key_pos("keyless"), "Notary verifies with certificates: use 'certificates'")
                    if entry.has("keys"):
                        d("error", "kyverno-notary-keys", "Keys field is not allowed for type notary",
                          entry.key_pos("keys"), "Notary verifies with certificates: use 'certificates'")
        start = e.start
        end_line = e.end[0]
        if e.end[1] <= start[1] and end_line > start[0]:
            end_line -= 1  # the mapping's end mark sits at the next item's indentation
        return VerifyEntry(
            index=self.entry_count, policy=policy, rule=rname, entry=i, rule_key=rule_key,
            image_references=refs, skip_image_references=skips, type=vtype, required=required,
            mutate_digest=mutate_digest, verify_digest=verify_digest, use_cache=use_cache,
            failure_action="Audit" if is_audit else "Enforce", repository=e.get("repository"),
            attestor_sets=sets, attestations=attestations, line=start[0], column=start[1], end_line=end_line,
            unsupported=tuple(dict.fromkeys(self.unsupported)),
        )

    # -- attestation conditions ------------------------------------------------------------

    def conditions(self, a: Obj, path: str) -> tuple[ConditionBlock, ...]:
        blocks: list[ConditionBlock] = []
        for n, block in enumerate(seq_items(a.get("conditions"))):
            where = f"{path}.conditions[{n}]"
            any_of = None
            if block.has("any"):
                any_of = tuple(self.condition(c, f"{where}.any[{i}]") for i, c in enumerate(seq_items(block.get("any"))))
            all_of = tuple(self.condition(c, f"{where}.all[{i}]") for i, c in enumerate(seq_items(block.get("all"))))
            if not block.has("any") and not block.has("all"):
                self.diag("warning", "kyverno-condition-empty", f"{where} has neither 'all' nor 'any': it checks nothing",
                          block.start, "add 'all: [{key: ..., operator: Equals, value: ...}]'")
            blocks.append(ConditionBlock(any_of, all_of))
        return tuple(blocks)

    def condition(self, c: Obj, path: str) -> Condition:
        d = self.diag
        written = c.get("operator")
        operator = canonical(written) if written else None
        if not c.has("operator"):
            d("error", "kyverno-condition-operator", f"{path}: operator is required", c.start,
              "add 'operator: Equals' (or AnyIn, GreaterThan, ...)")
        elif operator is None:
            d("error", "kyverno-condition-operator",
              f"{path}: entered value of `operator` is invalid: '{written}' is not a Kyverno condition operator",
              c.value_pos("operator"), "use one of Equals, NotEquals, AnyIn, AllIn, AnyNotIn, AllNotIn, "
              "GreaterThan, GreaterThanOrEquals, LessThan, LessThanOrEquals")
        elif operator in DEPRECATED:
            d("warning", "kyverno-deprecated-operator", f"{path}: operator {operator} is deprecated",
              c.value_pos("operator"), f"use {DEPRECATED[operator]}")
        key_node = self._field_node(c, "key")
        value_node = self._field_node(c, "value")
        if key_node is None:
            d("error", "kyverno-condition-key", f"{path}: key is required", c.start, "add 'key: \"{{ buildType }}\"'")
        key = _json_value(key_node)
        value = _json_value(value_node)
        for node, text_path in ((key_node, f"{path}.key"), (value_node, f"{path}.value")):
            if node is not None:
                self._templates(node, text_path)
        if operator is not None:
            self._operand_types(operator, key, key_node, value, value_node, c, path)
        return Condition(key, operator or written or "", value, c.get("message"), path)

    @staticmethod
    def _field_node(c: Obj, key: str) -> Node | None:
        if isinstance(c.node, MappingNode):
            for k, v in c.node.value:
                if isinstance(k, ScalarNode) and k.value == key:
                    found: Node = v
                    return found
        return None

    def _templates(self, node: Node, path: str) -> None:
        """Every JMESPath in the strings under `node`, checked where it is written."""
        stack = [node]
        seen: set[int] = set()
        while stack:
            item = stack.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, ScalarNode):
                if "{{" not in item.value:
                    continue
                line, column = position(item)
                shift = 1 if item.style in ("'", '"') else 0
                same_line = item.style in ("'", '"', "", None) and "\n" not in item.value
                for problem in check_template(item.value):
                    col = column + shift + problem.offset if same_line else column
                    self.diag("warning" if problem.severity == "warning" else "error",
                              "kyverno-condition-jmespath", f"{path}: {problem.message}", (line, col))
            elif isinstance(item, SequenceNode):
                stack.extend(item.value)
            elif isinstance(item, MappingNode):
                for k, v in item.value:
                    stack.extend((k, v))

    def _operand_types(self, operator: str, key: object, key_node: Node | None, value: object,
                       value_node: Node | None, c: Obj, path: str) -> None:
        """Operands Kyverno's operator can never hold true for: an error here, not a silent false."""
        def bad(node: Node | None, what: str, seen: object, expected: str) -> None:
            where = position(node) if node is not None else c.start
            self.diag("error", "kyverno-condition-value-type",
                      f"{path}: {operator} needs {expected} as {what}, not {_kind(seen)}", where,
                      f"write the {what} as {expected}")

        def templated(v: object) -> bool:  # decided at run time, after substitution
            return isinstance(v, str) and "{{" in v

        if operator in ("GreaterThan", "GreaterThanOrEquals", "LessThan", "LessThanOrEquals"):
            for what, v, node in (("key", key, key_node), ("value", value, value_node)):
                if not (templated(v) or (isinstance(v, (int, float, str)) and not isinstance(v, bool))):
                    bad(node, what, v, "a number, quantity, duration or version")
        elif operator.startswith("Duration"):
            from .operators import parse_go_duration

            for what, v, node in (("key", key, key_node), ("value", value, value_node)):
                if templated(v):
                    continue
                if isinstance(v, str) and parse_go_duration(v) is None:
                    bad(node, what, v, "a duration such as '1h30m' or a number of seconds")
                elif not isinstance(v, (int, float, str)) or isinstance(v, bool):
                    bad(node, what, v, "a duration such as '1h30m' or a number of seconds")
        elif operator in ("In", "NotIn", "AnyIn", "AllIn", "AnyNotIn", "AllNotIn"):
            if not (templated(value) or isinstance(value, (list, str)) or
                    (operator in ("AnyIn", "AnyNotIn") and isinstance(value, (int, float)))):
                bad(value_node, "value", value, "a list (or a JSON list in a string)")
            if isinstance(key, dict):
                bad(key_node, "key", key, "a string, a number or a list")

    def _pattern_lints(self, e: Obj, refs_seq: object, skips_seq: object) -> None:
        """pullguard's warnings on each imageReferences/skipImageReferences pattern."""
        for field_name, seq in (("imageReferences", refs_seq), ("skipImageReferences", skips_seq)):
            if not isinstance(seq, Seq):
                continue
            for pattern, node in zip(seq.items, seq.nodes, strict=True):
                for sev, code, msg, fix in lint.image_reference_findings(pattern, field_name == "skipImageReferences"):
                    self.diag(sev, code, msg, position(node), fix, end_position(node))
        if e.get("image"):
            for sev, code, msg, fix in lint.image_reference_findings(e.get("image"), False):
                self.diag(sev, code, msg, e.value_pos("image"), fix)

    def not_checked(self, obj: Obj, key: str, field_path: str, detail: str = "") -> None:
        """A field that changes Kyverno's verdict and that pullguard does not check: the entry's
        images get the outcome `error` "not verified by pullguard: <field> …", never a pass."""
        self.unsupported.append(f"not verified by pullguard: {field_path}" + (f" ({detail})" if detail else ""))
        self.diag("info", "kyverno-field-not-verified",
                  f"{field_path} is not verified by pullguard: the images of this entry get the outcome error",
                  obj.key_pos(key), None)

    def _entry_fields_not_checked(self, e: Obj) -> None:
        extensions = string_map(e.get("additionalExtensions"))
        if extensions:
            self.not_checked(e, "additionalExtensions", "additionalExtensions", ", ".join(extensions))
        annotations = string_map(e.get("annotations"))
        if annotations:
            self.not_checked(e, "annotations", "annotations", ", ".join(annotations))
        if e.get("cosignOCI11"):
            # Kyverno then looks for signatures only as cosign's experimental OCI 1.1 referrers
            self.not_checked(e, "cosignOCI11", "cosignOCI11", "signatures stored as OCI 1.1 referrers")
        validate = e.obj("validate")
        if validate is not None and validate.has("deny"):
            self.not_checked(validate, "deny", "validate.deny", "deny conditions")

    def legacy_attestor(self, e: Obj) -> AttestorSetReq:
        repository = self.entry_repository
        if e.get("key"):
            verifiers = self.public_keys(e.get("key"), "key", e.value_pos("key"), None)
            return AttestorSetReq(None, [AttestorReq("keys", "key", v, repository=repository) for v in verifiers]
                                  or [AttestorReq("keys", "key")])
        if e.get("issuer"):
            v = KeylessVerifier(issuer=e.get("issuer"), subject=e.get("subject") or None, match="wildcard",
                                roots=e.get("roots") or None, rekor_url=DEFAULT_REKOR_URL)
            if not e.get("roots"):
                # Convert() builds a keyless attestor without rekor: Kyverno's own check applies
                self.diag("error", "kyverno-keyless-rekor-or-roots", "Either Rekor URL or roots are required",
                          e.key_pos("issuer"), "add 'roots:' or move to attestors with 'keyless.rekor.url'")
            return AttestorSetReq(None, [AttestorReq("keyless", "issuer", v, repository=repository)])
        return AttestorSetReq(None, [AttestorReq("none", "annotations")])

    def attestor_sets(self, written: object, path: str, vtype: str) -> list[AttestorSetReq]:
        """The attestor sets of an `attestors` list (a new list: the entry may add the legacy set)."""
        shared = self.shared_sets
        key = (id(written), path, vtype, self.entry_repository)
        if shared is not None and isinstance(written, Seq):
            found = shared.get(key)
            if found is not None:
                return list(found[1])
        before = (self.walker.reported, len(self.unsupported))
        sets = [self.attestor_set(s, f"{path}[{j}]", vtype) for j, s in enumerate(seq_items(written))]
        if shared is not None and isinstance(written, Seq) and before == (self.walker.reported, len(self.unsupported)):
            shared[key] = (written, sets)
        return list(sets)

    def attestor_set(self, s: Obj, path: str, vtype: str) -> AttestorSetReq:
        d = self.diag
        entries_objs = seq_items(s.get("entries"))
        count = s.get("count")
        if s.has("count"):
            if count is not None and count < 1:
                d("error", "kyverno-count-minimum", "count in body should be greater than or equal to 1",
                  s.value_pos("count"), "remove 'count' (all entries) or set it to 1 or more")
            if count is not None and count > len(entries_objs):
                d("error", "kyverno-count-exceeds-entries", "Count cannot exceed length of entries",
                  s.value_pos("count"), f"set count to at most {len(entries_objs)}, or add entries")
        if not entries_objs:
            d("error", "kyverno-entry-required", "An entry is required", s.start,
              "add 'entries: [{keyless: {...}}]' or '{keys: {publicKeys: ...}}'")
        reqs: list[AttestorReq] = []
        for j, a in enumerate(entries_objs):
            reqs.extend(self.attestor(a, f"{path}.entries[{j}]", vtype))
        return AttestorSetReq(count, reqs)

    def attestor(self, a: Obj, path: str, vtype: str) -> list[AttestorReq]:
        d = self.diag
        kinds = [k for k in ("keys", "certificates", "keyless", "attestor") if a.has(k)]
        if len(kinds) != 1:
            where = a.key_pos(kinds[1]) if len(kinds) > 1 else a.start
            d("error", "kyverno-attestor-kind", "keys, certificates, keyless, or a nested attestor is required", where,
              "give each entry exactly one of keys, certificates, keyless or attestor" if kinds
              else "add 'keyless: {...}', 'keys: {publicKeys: ...}' or 'certificates: {cert: ...}'")
        if a.get("signatureAlgorithm") not in SIGNATURE_ALGORITHMS:
            d("error", "kyverno-signature-algorithm", "Invalid signature algorithm provided",
              a.value_pos("signatureAlgorithm"), "use sha224, sha256, sha384 or sha512")
        elif a.has("keys") and a.get("signatureAlgorithm") and a.get("signatureAlgorithm") != _keys_algorithm(a.get("keys")):
            # buildCosignVerifier (pkg/engine/internal/imageverifier.go) overwrites it with the
            # keys' own for keys attestors; the CRD defaults that one to sha256
            self.diag("warning", "kyverno-signature-algorithm-ignored",
                      f"{path}.signatureAlgorithm is not used by Kyverno for keys attestors: it verifies with "
                      f"keys.signatureAlgorithm ({_keys_algorithm(a.get('keys'))})", a.value_pos("signatureAlgorithm"),
                      f"write 'signatureAlgorithm: {a.get('signatureAlgorithm')}' under keys")
        annotations = tuple(sorted(string_map(a.get("annotations")).items()))
        repository = (self._signature_repository(a, f"{path}.repository", vtype) if a.get("repository")
                      else self.entry_repository)
        out: list[AttestorReq] = []
        if a.has("keys"):
            out.extend(self.keys(a.get("keys"), path))
        if a.has("certificates"):
            c = a.get("certificates")
            if not c.get("cert") and not c.get("certChain"):
                d("error", "kyverno-cert-required", "cert or certChain required", a.key_pos("certificates"),
                  "add 'cert: |' with the signer's PEM certificate")
            self._check_rekor_ctlog(c)
            self._tsa_not_checked(c, f"{path}.certificates")
            out.append(self.certificates(c, a, path) if vtype != "Notary" else
                       AttestorReq("certificates", path, None, detail="(certificate)" if c.get("cert") else "(certificate chain)"))
        if a.has("keyless"):
            out.append(self.keyless(a.get("keyless"), a, path))
        if a.has("attestor"):
            nested = self.attestor_set(a.get("attestor"), f"{path}.attestor", vtype)
            out.append(AttestorReq("nested", path, None, nested))
        if not out:
            out.append(AttestorReq("none", path))
        if annotations:  # checked against each signature's payload `optional`, as cosign -a does
            out = [dataclasses.replace(r, verifier=dataclasses.replace(r.verifier, annotations=annotations))
                   if r.verifier is not None else r for r in out]
        if repository:  # a nested set's attestors have their own (the outer one's is not used)
            out = [dataclasses.replace(r, repository=repository) if r.nested is None else r for r in out]
        return out

    def _signature_repository(self, obj: Obj, path: str, vtype: str) -> str:
        """`repository` (an entry's or an attestor's) as cosign's WithTargetRepository takes it:
        `registry/repository` where the `.sig`/`.att` tags, the bundle tag and the referrers of
        the image digest are looked up; "" for the image's own repository."""
        text = obj.get("repository")
        if not text:
            return ""
        if vtype == "SigstoreBundle":
            # pkg/image/verifiers/cpol/cosign/sigstore.go fetchBundles reads the image's referrers
            self.diag("warning", "kyverno-repository-ignored",
                      f"{path} is not used by Kyverno for type SigstoreBundle: it reads the bundles "
                      "as referrers of the image in its own repository", obj.key_pos("repository"),
                      "remove 'repository', or push the bundles to the image's repository")
            return ""
        if "{{" in text:
            self.not_checked(obj, "repository", path, "a variable pullguard cannot resolve offline")
            return ""
        try:
            return parse_repository(text)
        except InvalidReference as exc:
            # Kyverno's words (buildCosignOptions): every image of the entry then fails with them
            problem = f"failed to parse signature repository {text}: {exc.reason}"
            self.unsupported.append(f"{path}: {problem}")
            self.diag("error", "kyverno-repository-invalid", f"{path}: {problem}", obj.char_pos("repository", exc.offset),
                      "write a repository name without tag or digest, e.g. 'ghcr.io/acme/signatures'")
            return ""

    def _rekor(self, obj: Obj) -> tuple[str | None, str | None, bool]:
        """(url, pubkey, ignoreTlog) with Kyverno's defaults when `rekor` is absent."""
        if not obj.has("rekor"):
            return DEFAULT_REKOR_URL, None, False
        r = obj.get("rekor")
        return r.get("url") or None, r.get("pubkey") or None, bool(r.get("ignoreTlog"))

    def _tsa_not_checked(self, obj: Obj, path: str) -> None:
        ctlog = obj.obj("ctlog")
        if ctlog is not None and ctlog.get("tsaCertChain"):
            self.not_checked(ctlog, "tsaCertChain", f"{path}.ctlog.tsaCertChain", "timestamp authority")

    def _check_rekor_ctlog(self, obj: Obj) -> None:
        for key in ("rekor", "ctlog"):
            if obj.has(key) and obj.get(key).get("pubkey"):
                sub = obj.get(key)
                text = sub.get("pubkey")
                if lint.key_material_kind(text) == "pem":
                    finding, _ = lint.pem_key_finding(f"{key}.pubkey", text)
                    if finding:
                        self.diag(finding[0], finding[1], finding[2], sub.value_pos("pubkey"), finding[3])

    def public_keys(self, text: str, field_name: str, pos: Pos, rekor: tuple[str | None, str | None, bool] | None,
                    hash_algorithm: str = "sha256") -> list[PublicKeyVerifier]:
        url, rekor_pub, ignore = rekor if rekor else (DEFAULT_REKOR_URL, None, False)
        kind = lint.key_material_kind(text)
        if kind == "variable":
            self.diag("info", "kyverno-key-variable", f"{field_name} uses a variable; pullguard cannot resolve it offline", pos)
            return []
        if kind == "reference":
            self.diag("info", "kyverno-key-reference",
                      f"{field_name} refers to a key pullguard cannot read offline ({text.strip().split('://')[0]}://)", pos)
            return []
        out = []
        for pem in lint.split_public_keys(text):
            finding, key = lint.pem_key_finding(field_name, pem)
            if finding:
                self.diag(finding[0], finding[1], finding[2], pos, finding[3])
            out.append(PublicKeyVerifier(pem=pem.strip(), fingerprint=key.fingerprint if key else None,
                                         ignore_tlog=ignore, rekor_pubkey=rekor_pub, hash_algorithm=hash_algorithm))
        return out

    def keys(self, k: Obj, path: str) -> list[AttestorReq]:
        d = self.diag
        if not k.get("publicKeys") and not k.get("kms") and not k.has("secret"):
            d("error", "kyverno-static-key-required", "A public key, kms key or secret is required", k.start,
              "add 'publicKeys: |' with the signer's PEM PUBLIC KEY")
        if k.get("publicKeys") and k.get("signatureAlgorithm") not in SIGNATURE_ALGORITHMS:
            d("error", "kyverno-signature-algorithm", "Invalid signature algorithm provided",
              k.value_pos("signatureAlgorithm"), "use sha224, sha256, sha384 or sha512")
        if k.has("signatureAlgorithm"):
            d("warning", "kyverno-deprecated-field",
              "'keys.signatureAlgorithm' is deprecated; use the attestor entry's 'signatureAlgorithm'",
              k.key_pos("signatureAlgorithm"),
              "keep it here for now: for keys attestors Kyverno still verifies with this one, not the entry's")
        rekor = self._rekor(k)
        self._check_rekor_ctlog(k)
        self._tsa_not_checked(k, f"{path}.keys")
        if not k.has("rekor") and k.get("publicKeys"):
            d("info", "kyverno-keys-tlog-default",
              "without 'rekor', Kyverno requires a Rekor transparency log entry for key signatures "
              "(https://rekor.sigstore.dev, ignoreTlog false)",
              k.key_pos("publicKeys"), "for keys signed with '--tlog-upload=false' add 'rekor: {ignoreTlog: true, url: https://rekor.sigstore.dev}'")
        if k.get("publicKeys"):
            verifiers = self.public_keys(k.get("publicKeys"), "keys.publicKeys", k.value_pos("publicKeys"), rekor,
                                         _keys_algorithm(k))
            if verifiers:
                # several keys in one publicKeys: one attestor each (ExpandStaticKeys)
                return [AttestorReq("keys", path if len(verifiers) == 1 else f"{path}.keys[{n}]", v)
                        for n, v in enumerate(verifiers)]
            return [AttestorReq("keys", path, None, detail=k.get("publicKeys").strip()[:60])]
        if k.get("kms"):
            return [AttestorReq("kms", path, None, detail=k.get("kms"))]
        if k.has("secret"):
            s = k.get("secret")
            return [AttestorReq("secret", path, None, detail=f"k8s://{s.get('namespace')}/{s.get('name')}")]
        return [AttestorReq("none", path)]

    def certificates(self, c: Obj, a: Obj, path: str) -> AttestorReq:
        """cosign's --certificate / --certificate-chain: `cert` alone is the key that must have made
        the signature; `certChain` is the trust anchor the signing certificate must chain to (and,
        with `cert` too, that certificate it must be)."""
        cert, chain = c.get("cert") or "", c.get("certChain") or ""
        detail = "(certificate)" if cert else "(certificate chain)"
        url, rekor_pub, ignore_tlog = self._rekor(c)
        if not cert and not chain:
            return AttestorReq("certificates", path, None, detail=detail)
        for key, text in (("cert", cert), ("certChain", chain)):
            if text and (lint.key_material_kind(text) != "pem" or "-----BEGIN" not in text):
                self.diag("info", "kyverno-key-reference", f"certificates.{key} is not a PEM certificate pullguard can read offline",
                          c.value_pos(key))
                return AttestorReq("certificates", path, None, detail=detail)
            if text and certificate_problem(text):
                self.diag("error", "kyverno-certificate-invalid", f"certificates.{key}: {certificate_problem(text)}",
                          c.value_pos(key), "paste the PEM block from '-----BEGIN CERTIFICATE-----' to '-----END CERTIFICATE-----'")
                return AttestorReq("certificates", path, None, detail=detail)
        ctlog = c.obj("ctlog")
        # cosign.go buildCosignOptions: LoadVerifier(cert.PublicKey, the entry's signatureAlgorithm)
        algorithm = a.get("signatureAlgorithm") if a.get("signatureAlgorithm") in SIGNATURE_ALGORITHMS else ""
        verifier = certificate_verifier(
            cert, chain, rekor_url=url, rekor_pubkey=rekor_pub, ignore_tlog=ignore_tlog,
            ctlog_pubkey=(ctlog.get("pubkey") or None) if ctlog else None,
            ignore_sct=bool(ctlog.get("ignoreSCT")) if ctlog else False, hash_algorithm=algorithm or "sha256",
        )
        return AttestorReq("certificates", path, verifier, detail=detail)

    def keyless(self, k: Obj, a: Obj, path: str) -> AttestorReq:
        d = self.diag
        if not k.has("rekor") and not k.get("roots"):
            d("error", "kyverno-keyless-rekor-or-roots", "Either Rekor URL or roots are required", a.key_pos("keyless"),
              "add 'rekor: {url: https://rekor.sigstore.dev}'")
        if k.has("rekor") and not k.get("rekor").get("url"):
            d("error", "kyverno-rekor-url-required", "An URL is required", k.key_pos("rekor"),
              "add 'url: https://rekor.sigstore.dev' under rekor")
        for key in ("subjectRegExp", "issuerRegExp"):
            if k.get(key):
                f = lint.regex_finding(f"keyless.{key}", k.get(key))
                if f:
                    d(f[0], f[1], f[2], k.value_pos(key), f[3])
        self._check_rekor_ctlog(k)
        extensions = string_map(k.get("additionalExtensions"))
        unknown = [name for name in extensions if name not in FULCIO_EXTENSIONS]
        if unknown:
            self.not_checked(k, "additionalExtensions", f"{path}.keyless.additionalExtensions", ", ".join(unknown))
        self._tsa_not_checked(k, f"{path}.keyless")
        url, rekor_pub, ignore_tlog = self._rekor(k) if k.has("rekor") else (DEFAULT_REKOR_URL, None, False)
        ctlog = k.get("ctlog") if k.has("ctlog") else None
        v = KeylessVerifier(
            issuer=k.get("issuer") or None, subject=k.get("subject") or None,
            subject_regex=k.get("subjectRegExp") or None, issuer_regex=k.get("issuerRegExp") or None,
            match="wildcard", roots=k.get("roots") or None, rekor_url=url, rekor_pubkey=rekor_pub,
            ignore_tlog=ignore_tlog, ctlog_pubkey=(ctlog.get("pubkey") or None) if ctlog else None,
            ignore_sct=bool(ctlog.get("ignoreSCT")) if ctlog else False,
            extensions=tuple((name, value) for name, value in extensions.items() if name in FULCIO_EXTENSIONS),
        )
        return AttestorReq("keyless", path, v)


def load(docs: list[Document], path: str, errors_only: bool = False) -> tuple[KyvernoPolicySet, list[Diagnostic]]:
    """Every Kyverno policy document of the file; other documents are ignored (with
    `errors_only`, the lints that can only warn are skipped).

    With `errors_only` (a fleet's policy, simulated), attestors written alike are decoded once
    (`SubtreeMemo`); a policy that has anything to report is read again without that, so every
    diagnostic names its own line."""
    if errors_only:
        memo = SubtreeMemo.for_documents(docs, _SHARED_SPECS)
        if memo is not None:
            policy, diags = _load(docs, path, errors_only, memo)
            if not (diags and memo.hits):
                return policy, diags
    return _load(docs, path, errors_only, None)


# What SubtreeMemo may share: every `attestors` list (an entry's, an attestation's).
_SHARED_SPECS = tuple(spec for spec in (VERIFY_IMAGES.fields["attestors"], ATTESTATION.fields["attestors"]) if spec)


def _load(docs: list[Document], path: str, errors_only: bool,
          memo: SubtreeMemo | None) -> tuple[KyvernoPolicySet, list[Diagnostic]]:
    loader = _Loader(path, errors_only, memo)
    for doc in docs:
        if detect(doc):
            try:
                loader.document(doc)
            except RecursionError:  # absurdly nested attestors
                loader.diag("error", "kyverno-too-deep", "attestors are nested too deeply",
                            position(doc.root) if doc.root is not None else None)
    policy = KyvernoPolicySet(loader.rules)
    return policy, _attach_entry_index(loader.diags, policy.entries)


def _attach_entry_index(diags: list[Diagnostic], entries: list[VerifyEntry]) -> list[Diagnostic]:
    """Key and type errors are found while the whole document is decoded, before entries are
    numbered: give those inside an entry that entry's index (by line range)."""
    from bisect import bisect_left, bisect_right
    from dataclasses import replace

    starts = [e.line for e in entries]
    ends = [e.end_line for e in entries]
    # Entries are disjoint and in file order, so both lists ascend and the first entry whose
    # range holds a line is found by bisection (a file with many typos and many entries).
    ordered = all(a <= b for a, b in zip(starts, starts[1:], strict=False)) and all(
        a <= b for a, b in zip(ends, ends[1:], strict=False))
    out = []
    for d in diags:
        line = d.line
        if d.rule_index is None and line is not None:
            if ordered:
                i = bisect_left(ends, line)  # the first entry ending at or after the line
                if i < bisect_right(starts, line):
                    d = replace(d, rule_index=entries[i].index)
            else:
                for e in entries:
                    if e.line <= line <= e.end_line:
                        d = replace(d, rule_index=e.index)
                        break
        out.append(d)
    return out


_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TRUE = frozenset("y Y yes Yes YES true True TRUE on On ON".split())
_FALSE = frozenset("n N no No NO false False FALSE off Off OFF".split())


def _json_value(node: Node | None) -> object:
    """A condition's key or value as Kubernetes turns the YAML into JSON (yaml.v2's plain
    scalars: booleans, numbers, null; quoted scalars stay strings)."""
    if node is None or is_null(node):
        return None
    if isinstance(node, SequenceNode):
        return [_json_value(item) for item in node.value]
    if isinstance(node, MappingNode):
        return {str(k.value) if isinstance(k, ScalarNode) else "": _json_value(v) for k, v in node.value}
    text: str = node.value
    if isinstance(node, ScalarNode) and node.style:
        return text
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    plain = text.replace("_", "")
    try:
        return int(plain, 0)
    except ValueError:
        pass
    if _FLOAT.fullmatch(plain):
        return float(plain)
    return text


def _keys_algorithm(keys: Obj) -> str:
    """The digest a keys attestor's key verifies over in Kyverno: keys.signatureAlgorithm, whose
    CRD default is sha256 (signatureAlgorithmMap maps "" to SHA-256 too)."""
    written = keys.get("signatureAlgorithm") if isinstance(keys, Obj) else ""
    return written if written in SIGNATURE_ALGORITHMS and written else "sha256"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"'{value}'"
