"""Kyverno `verifyImages` dialect: loading, Kyverno's own validation, simulation.

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

from dataclasses import dataclass, field
from typing import Literal

from ..vocabulary import Decision, OutlineItem, RuleTrial
from ..diagnostics import Diagnostic
from ..patterns import all_matches, mask_bits, wildcard_masks
from ..reference import kyverno_image_string as image_string
from ..yamlsource import Document, end_position, position
from . import kyverno_lint as lint
from .kyverno_match import (
    AUTOGEN_ANNOTATION,
    AUTOGEN_CONTROLLERS,
    WORKLOAD_GVK,
    contains_pod,
    kind_selected,
)
from ..yamlschema import Obj, Seq, Walker, seq_items
from .kyverno_schema import POLICY
from .detect import KYVERNO_KINDS, is_kyverno
from ..vocabulary import Action, KeylessVerifier, PublicKeyVerifier, Verifier

API_VERSIONS = ("kyverno.io/v1", "kyverno.io/v2beta1")
KINDS = KYVERNO_KINDS
TYPES = ("Cosign", "SigstoreBundle", "Notary")
DEFAULT_REKOR_URL = "https://rekor.sigstore.dev"
SIGNATURE_ALGORITHMS = ("", "sha224", "sha256", "sha384", "sha512")
AUDIT_MUTATE_DIGEST = "mutateDigest must be set to false for 'Audit' failure action"

Pos = tuple[int, int]
# (entry index, first matching imageReference, first matching skip pattern or None), ...
Matches = tuple[tuple[int, str, "str | None"], ...]


# --- what a verifyImages entry asks for ----------------------------------------------------


@dataclass
class AttestorReq:
    """One attestor (after Kyverno splits a multi-key `publicKeys` into one entry per key)."""

    kind: Literal["keys", "keyless", "certificates", "kms", "secret", "nested", "none"]
    path: str  # e.g. `attestors[0].entries[1]`
    verifier: Verifier | None = None
    nested: "AttestorSetReq | None" = None
    detail: str = ""  # KMS URI, secret name, certificate note

    def describe(self) -> str:
        v = self.verifier
        if isinstance(v, PublicKeyVerifier):
            return f"public key {v.fingerprint or '(unparseable)'}"
        if isinstance(v, KeylessVerifier):
            parts = ["keyless"]
            if v.issuer:
                parts.append(f"issuer {v.issuer}")
            if v.issuer_regex:
                parts.append(f"issuerRegExp {v.issuer_regex}")
            if v.subject:
                parts.append(f"subject {v.subject}")
            if v.subject_regex:
                parts.append(f"subjectRegExp {v.subject_regex}")
            return " ".join(parts)
        if self.nested is not None:
            return f"nested ({self.nested.describe()})"
        return f"{self.kind} {self.detail}".strip()

    def to_json(self) -> dict:
        out: dict = {"path": self.path, "kind": self.kind}
        v = self.verifier
        if isinstance(v, PublicKeyVerifier):
            out.update(v.to_json())
            out.update({"ignore_tlog": v.ignore_tlog})
        elif isinstance(v, KeylessVerifier):
            out.update(v.to_json())
            out.update({"issuer_regex": v.issuer_regex, "rekor_url": v.rekor_url,
                        "ignore_tlog": v.ignore_tlog, "ignore_sct": v.ignore_sct})
        if self.nested is not None:
            out["attestor"] = self.nested.to_json()
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class AttestorSetReq:
    count: int | None  # as written
    entries: list[AttestorReq]

    @property
    def required(self) -> int:
        """AttestorSet.RequiredCount: nil or 0 means every entry."""
        return len(self.entries) if not self.count else self.count

    def describe(self) -> str:
        inner = "; ".join(e.describe() for e in self.entries)
        if len(self.entries) <= 1:
            return inner
        if self.required >= len(self.entries):
            return f"all of: {inner}"
        return f"{self.required} of {len(self.entries)}: {inner}"

    def to_json(self) -> dict:
        return {"count": self.count, "required": self.required,
                "entries": [e.to_json() for e in self.entries]}


@dataclass
class VerifyEntry:
    index: int  # flat position among every verifyImages entry in the file
    policy: str
    rule: str
    entry: int
    rule_key: int  # index into KyvernoPolicySet.rules
    image_references: list[str]
    skip_image_references: list[str]
    type: str
    required: bool
    mutate_digest: bool
    verify_digest: bool
    use_cache: bool
    failure_action: str  # effective: "Audit" or "Enforce"
    repository: str
    attestor_sets: list[AttestorSetReq]
    attestations: list[tuple[str, list[AttestorSetReq]]]
    line: int
    column: int
    end_line: int

    @property
    def rule_id(self) -> str:
        return f"{self.policy}/{self.rule}#{self.entry}"

    @property
    def pattern(self) -> str:
        return ", ".join(self.image_references)

    @property
    def supported(self) -> bool:
        return self.type != "Notary"

    def first_verifier(self) -> Verifier | None:
        def walk(sets: list[AttestorSetReq]) -> Verifier | None:
            for s in sets:
                for a in s.entries:
                    if a.verifier is not None:
                        return a.verifier
                    if a.nested is not None:
                        found = walk([a.nested])
                        if found is not None:
                            return found
            return None

        if not self.supported:
            return None
        return walk(self.attestor_sets) or walk([s for _, sets in self.attestations for s in sets])

    def describe(self) -> str:
        if not self.supported:
            return "type Notary is not supported for verification by pullguard"
        parts = []
        for s in self.attestor_sets:
            parts.append(s.describe())
        for name, sets in self.attestations:
            parts.append(f"attestation {name or '?'}" + (" by " + "; ".join(s.describe() for s in sets) if sets else ""))
        return " + ".join(parts) if parts else "no attestors: no signature check"

    def to_json(self, action: str, pattern: str | None) -> dict:
        return {
            "policy": self.policy, "rule": self.rule, "entry": self.entry, "rule_id": self.rule_id,
            "action": action, "pattern": pattern, "type": self.type, "supported": self.supported,
            "required": self.required, "verify_digest": self.verify_digest,
            "mutate_digest": self.mutate_digest, "failure_action": self.failure_action,
            "repository": self.repository or None,
            "attestors": [s.to_json() for s in self.attestor_sets],
            "attestations": [{"type": t, "attestors": [s.to_json() for s in sets]} for t, sets in self.attestations],
        }


@dataclass
class Requirements:
    """What Kyverno would require of one image (simulate; no network)."""

    verify: list[tuple[VerifyEntry, str]]  # (entry, matching pattern)
    skipped: list[tuple[VerifyEntry, str]]  # (entry, skipping pattern)
    has_digest: bool
    digest_added: bool  # an applying rule has mutateDigest: the digest would be added
    digest_required: bool  # an applying entry has verifyDigest
    missing_digest: bool  # verifyDigest and no digest and none would be added: Kyverno fails it
    unsupported: list[str]
    json: dict | None = None  # to_json(), computed once per shared instance

    def to_json(self) -> dict:
        return {
            "entries": [e.to_json("verify", p) for e, p in self.verify]
            + [e.to_json("skip", p) for e, p in self.skipped],
            "digest_required": self.digest_required,
            "digest_added": self.digest_added,
            "missing_digest": self.missing_digest,
            "unsupported": self.unsupported,
        }


# --- rule selection by resource kind -------------------------------------------------------


@dataclass
class _Filter:
    kinds: list[str]
    other: list[str]  # conditions other than kinds, which cannot be known offline


@dataclass
class RuleInfo:
    policy: str
    name: str
    match_any: bool  # `any` (or the legacy single block) vs `all`
    match: list[_Filter]
    exclude_any: bool
    exclude: list[_Filter]
    autogen: frozenset[str]  # controller kinds this Pod rule is copied to
    has_preconditions: bool
    entries: list[VerifyEntry] = field(default_factory=list)

    def selects(self, kind: str) -> tuple[bool, str]:
        """Does the rule apply to a resource of this kind, and why (for explain)."""
        memo = self.__dict__.setdefault("_selects", {})
        hit = memo.get(kind)
        if hit is None:
            hit = memo[kind] = self._selects_uncached(kind)
        return hit

    def _selects_uncached(self, kind: str) -> tuple[bool, str]:
        if not self.match:
            return False, "match selects no kinds"
        pick = any if self.match_any else all
        direct = pick(kind_selected(f.kinds, kind) for f in self.match)
        via = ""
        if not direct and kind in self.autogen:
            direct, via = True, f" (autogen from Pod for {kind})"
        if not direct:
            kinds = sorted({k for f in self.match for k in f.kinds})
            return False, f"match selects {', '.join(kinds) or 'no kinds'}, not {kind}"
        if self.exclude:
            epick = any if self.exclude_any else all
            decided = [f for f in self.exclude if not f.other]
            if decided and epick(kind_selected(f.kinds, kind) for f in self.exclude if not f.other) and len(decided) == len(self.exclude):
                return False, f"exclude removes {kind}"
        notes = sorted({o for f in self.match for o in f.other})
        note = f"; assumed to hold: {', '.join(notes)}" if notes else ""
        if self.has_preconditions:
            note += "; preconditions assumed to hold"
        return True, f"match selects {kind}{via}{note}"


# --- the policy set ------------------------------------------------------------------------


class KyvernoPolicySet:
    """Every ClusterPolicy/Policy of a file; evaluation reports every entry that applies."""

    dialect = "kyverno"

    def __init__(self, rules: list[RuleInfo]):
        self.rules = rules
        self.entries: list[VerifyEntry] = [e for r in rules for e in r.entries]
        self._all = None
        # image string -> its Matches, filled for a whole image list at once (_match_many)
        self._found: dict[str, Matches] = {}
        # (matches, kind, has_digest) -> outcome: images matched by the same entries and
        # patterns share one decision (message, Requirements and its JSON, verifier).
        self._outcomes: dict[tuple, tuple] = {}
        # Outcomes whose applying entries are the same share one Requirements (and its JSON).
        self._shared: dict[tuple, tuple] = {}

    # -- matching -------------------------------------------------------------------------

    def _matches(self, s: str) -> Matches:
        """(entry index, first matching imageReference, first matching skip pattern or None)
        for every entry whose imageReferences match the image string, in entry order."""
        found = self._found.get(s)
        if found is not None:
            return found
        if self._all is None:
            # Every pattern of the file in entry order, imageReferences before skips, so the
            # first index that matches is the pattern written first in its entry.
            owners = []
            for e in self.entries:
                owners += [(e.index, 0, p) for p in e.image_references]
                owners += [(e.index, 1, p) for p in e.skip_image_references]
            self._all = (all_matches(tuple(p for _, _, p in owners)), owners)
        index, owners = self._all
        slots: dict[int, list] = {}
        for i in index.all(s):
            idx, k, pattern = owners[i]
            slot = slots.setdefault(idx, [None, None])
            if slot[k] is None:
                slot[k] = pattern
        return tuple((idx, ref, skip) for idx, (ref, skip) in slots.items() if ref is not None)

    def _match_many(self, strings: tuple[str, ...]) -> None:
        """_matches for a whole image list through per-pattern bitmasks over its distinct
        strings; the masks outlive the policy, so after an edit only changed patterns match."""
        table = wildcard_masks(strings)
        per_subject: dict[int, list] = {}
        for e in self.entries:
            refs = 0
            ref_of: dict[int, str] = {}
            for pattern in e.image_references:
                hit = table.mask(pattern) & ~refs
                if hit:
                    refs |= hit
                    for i in mask_bits(hit):
                        ref_of[i] = pattern
            if not refs:
                continue
            skips = 0
            skip_of: dict[int, str] = {}
            for pattern in e.skip_image_references:
                # a skip pattern only matters where the entry's imageReferences match
                hit = table.mask(pattern) & refs & ~skips
                if hit:
                    skips |= hit
                    for i in mask_bits(hit):
                        skip_of[i] = pattern
            for i, pattern in ref_of.items():
                per_subject.setdefault(i, []).append((e.index, pattern, skip_of.get(i)))
        found = self._found
        none: Matches = ()
        interned: dict[Matches, Matches] = {}
        for i, s in enumerate(table.subjects):
            m = per_subject.get(i)
            if m is None:
                found[s] = none
            else:
                m = tuple(m)
                found[s] = interned.setdefault(m, m)

    def _decide(self, s: str, kind: str, has_digest: bool) -> tuple:
        """(action, first entry, pattern, message, Requirements, rules JSON, verifier, missing,
        extra); with `missing`, the message has "\x00" where the image string goes."""
        matches = self._matches(s)
        key = (matches, kind, has_digest)
        hit = self._outcomes.get(key)
        if hit is None:
            hit = self._outcomes[key] = self._outcome(matches, kind, has_digest)
        return hit

    def _outcome(self, matches: Matches, kind: str, has_digest: bool) -> tuple:
        verify: list[tuple[VerifyEntry, str]] = []
        skipped: list[tuple[VerifyEntry, str]] = []
        digest_added = digest_required = False
        selected: dict[int, bool] = {}
        for idx, ref, skip in matches:
            entry = self.entries[idx]
            ok = selected.get(entry.rule_key)
            if ok is None:
                ok = selected[entry.rule_key] = self.rules[entry.rule_key].selects(kind)[0]
            if not ok:
                continue
            if skip is not None:
                skipped.append((entry, skip))
            else:
                verify.append((entry, ref))
            # verifyDigest is checked for every entry whose imageReferences match, skipped or not
            digest_required = digest_required or entry.verify_digest
            # mutateDigest runs for every image any entry of the rule matched (mutate_image.go)
            if any(e.mutate_digest for e in self.rules[entry.rule_key].entries):
                digest_added = True
        digest_added = digest_added and not has_digest
        missing = digest_required and not has_digest and not digest_added
        shape = (tuple((e.index, p) for e, p in verify), tuple((e.index, p) for e, p in skipped),
                 has_digest, digest_added, digest_required)
        shared = self._shared.get(shape)
        if shared is not None:
            return shared
        unsupported = [f"{e.rule_id}: type Notary is not supported for verification by pullguard"
                       for e, _ in verify if not e.supported]
        req = Requirements(verify, skipped, has_digest, digest_added, digest_required, missing, unsupported)
        if verify:
            action: Action = "verify"
            first, pattern = verify[0]
            more = len(verify) - 1
            head = f"verification required by {first.rule_id}" + (f" and {more} more" if more else "")
            message = f"{head}: {first.describe()}"
        elif skipped:
            action = "skip"
            first, pattern = skipped[0]
            message = f"verification skipped by matched rule ({first.rule_id})"
        else:
            action, first, pattern, message = "allow", None, None, "no matched rule"
        notes = []
        if missing:
            notes.append("missing digest for \x00 (verifyDigest)")
        elif digest_added:
            notes.append("digest would be added (mutateDigest)")
        if verify and all(e.failure_action == "Audit" for e, _ in verify):
            notes.append("Audit: failures are reported, not blocked")
        if notes:
            message += "; " + "; ".join(notes)
        rules_json = [{"policy": e.policy, "rule": e.rule, "entry": e.entry, "action": a}
                      for e, a in sorted([(e, "verify") for e, _ in verify] + [(e, "skip") for e, _ in skipped],
                                         key=lambda t: t[0].index)]
        req.json = req.to_json()
        verifier = first.first_verifier() if action == "verify" else None
        # rules_json and extra are shared by every Decision with this outcome (read only): an
        # editor keeps several analyses of thousands of images, and every object costs the GC.
        extra = {"requirements": req.json}
        out = self._shared[shape] = (action, first, pattern, message, req, rules_json, verifier, missing, extra)
        return out

    # -- the dialect interface ------------------------------------------------------------

    def evaluate(self, image, kind: str | None = None) -> Decision:
        """Decision for one image; `kind` is the workload it comes from (None: a Pod).

        `image` may also be an object with `reference` (or `image`) and `kind` attributes."""
        from ..reference import InvalidReference

        ref, kind = _image_and_kind(image, kind)
        try:
            s = image_string(ref)
        except InvalidReference as exc:
            message = str(exc)
            return Decision(ref, None, None, None, None, None, None, message, error=message)
        return self._decision(ref, s, kind)

    def _decision(self, ref: str, s: str, kind: str) -> Decision:
        action, first, pattern, message, req, rules, verifier, missing, extra = self._decide(s, kind, "@" in s)
        if missing:
            message = message.replace("missing digest for \x00", f"missing digest for {s}")
        if first is None:
            return Decision(ref, s, action, None, None, None, None, message, rules=rules,
                            requirements=req, extra=extra)
        return Decision(ref, s, action, first.index, first.rule_id, pattern, verifier, message,
                        rules=rules, requirements=req, extra=extra)

    def evaluate_many(self, images) -> list[Decision]:
        from ..reference import InvalidReference

        items = []
        for image in images:
            ref, kind = _image_and_kind(image, None)
            try:
                s = image_string(ref)
            except InvalidReference:  # evaluate() builds the error decision
                s = None
            items.append((image, ref, kind, s))
        strings = tuple(s for _, _, _, s in items if s is not None)
        if 0 < len(strings) <= _MASK_LIMIT:
            self._match_many(strings)
        decision = self._decision
        return [self.evaluate(image) if s is None else decision(ref, s, kind) for image, ref, kind, s in items]

    def explain(self, image, kind: str | None = None) -> list[RuleTrial]:
        """Every verifyImages entry and why it does or does not apply to this image."""
        from ..reference import InvalidReference

        ref, kind = _image_and_kind(image, kind)
        try:
            s = image_string(ref)
        except InvalidReference as exc:
            return [RuleTrial(e.index, e.rule_id, e.pattern, False, f"not tried: {exc}") for e in self.entries]
        found = {idx: (ref, skip) for idx, ref, skip in self._matches(s)}
        trials = []
        for e in self.entries:
            rule = self.rules[e.rule_key]
            ok, why = rule.selects(kind)
            ref_pat, skip_pat = found.get(e.index, (None, None))
            if not ok:
                trials.append(RuleTrial(e.index, e.rule_id, e.pattern, False, f"rule not applied: {why}"))
            elif ref_pat is None:
                pats = ", ".join(f"'{p}'" for p in e.image_references) or "no imageReferences"
                trials.append(RuleTrial(e.index, e.rule_id, e.pattern, False, f"{pats} does not match '{s}'"))
            elif skip_pat is not None:
                trials.append(RuleTrial(e.index, e.rule_id, e.pattern, True,
                                        f"'{ref_pat}' matches '{s}' but skipImageReferences '{skip_pat}' skips it"))
            else:
                trials.append(RuleTrial(e.index, e.rule_id, e.pattern, True,
                                        f"'{ref_pat}' matches '{s}': verify ({e.describe()}); {why}"))
        return trials

    def outline(self) -> list[OutlineItem]:
        out = []
        for e in self.entries:
            action: Action = "verify" if e.image_references else "allow"
            out.append(OutlineItem(e.index, e.rule_id, e.pattern, action, e.line, e.end_line))
        return out


_MASK_LIMIT = 20_000  # image lists longer than this match image by image (AllMatches)


def _image_and_kind(image, kind: str | None) -> tuple[str, str]:
    if not isinstance(image, str):
        kind = kind or getattr(image, "kind", None)
        image = getattr(image, "reference", None) or getattr(image, "image", None) or str(image)
    if kind not in WORKLOAD_GVK:
        kind = "Pod"  # unknown origin, or a kind without a pod template: taken as a Pod
    return image, kind


# --- detection and loading -----------------------------------------------------------------


detect = is_kyverno


class _Loader:
    def __init__(self, path: str):
        self.path = path
        self.diags: list[Diagnostic] = []
        self.current_entry: int | None = None
        self.walker = Walker(self.diags.append, lambda: self.current_entry)
        self.entry_count = 0
        self.rules: list[RuleInfo] = []

    def diag(self, severity, code, message, pos: Pos | None, fix=None, end: Pos | None = None):
        self.walker.diag(severity, code, message, pos, fix, end)

    # -- documents ------------------------------------------------------------------------

    def document(self, doc: Document) -> None:
        root = doc.root
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

    def spec(self, spec: Obj, policy: str, annotations: dict) -> None:
        vfa = spec.get("validationFailureAction")
        if vfa and vfa not in ("audit", "enforce", "Audit", "Enforce"):
            self._unsupported_value(spec, "validationFailureAction", vfa, ("Audit", "Enforce"))
        elif vfa in ("audit", "enforce"):
            self.diag("warning", "kyverno-deprecated-failure-action",
                      "Validation failure actions enforce/audit are deprecated, use Enforce/Audit instead.",
                      spec.value_pos("validationFailureAction"), f"write '{vfa.capitalize()}'")
        spec_audit = vfa not in ("Enforce", "enforce")  # CRD default Audit; Audit() is !Enforce()
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
                          f"Multiple operations defined in the rule '{rname}', only one operation (mutate,validate,generate,verifyImages) is allowed per rule",
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

    def _filters(self, block: Obj | None) -> tuple[bool, list[_Filter]]:
        if block is None:
            return True, []

        def one(res: Obj | None, user: Obj) -> _Filter:
            kinds = list(seq_items(res.get("kinds"))) if res else []
            other = []
            if res:
                for k in ("name", "names", "namespaces", "annotations", "selector", "namespaceSelector", "operations"):
                    if res.has(k) and res.get(k):
                        other.append(k)
            for k in ("roles", "clusterRoles", "subjects"):
                if user.has(k):
                    other.append(k)
            return _Filter(kinds, other)

        if seq_items(block.get("any")):
            return True, [one(f.get("resources") if f.has("resources") else None, f) for f in seq_items(block.get("any"))]
        if seq_items(block.get("all")):
            return False, [one(f.get("resources") if f.has("resources") else None, f) for f in seq_items(block.get("all"))]
        res = block.get("resources") if block.has("resources") else None
        if res is None and not any(block.has(k) for k in ("roles", "clusterRoles", "subjects")):
            return True, []
        return True, [one(res, block)]

    def _autogen(self, spec: Obj, rules: list[Obj], annotations: dict) -> frozenset[str]:
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
                      "at least one element must be specified in a kind block, the kind attribute is mandatory when working with the resources element",
                      rule.key_pos("match"), "add 'kinds: [Pod]' under match resources")
        match_kinds = [k for f in match_filters for k in f.kinds]
        exclude_kinds = [k for f in exclude_filters for k in f.kinds]
        rule_autogen = autogen if contains_pod(match_kinds) and (not exclude_kinds or contains_pod(exclude_kinds)) else frozenset()
        info = RuleInfo(policy, rname, match_any, match_filters, exclude_any, exclude_filters, rule_autogen,
                        rule.has("preconditions"))
        rule_key = len(self.rules)
        self.rules.append(info)
        is_audit = spec_audit
        for i, (entry, node) in enumerate(zip(seq_items(rule.get("verifyImages")), rule.get("verifyImages").nodes)):
            self.current_entry = self.entry_count
            fa = entry.get("failureAction")
            if entry.has("failureAction"):
                if fa not in ("Audit", "Enforce"):
                    self._unsupported_value(entry, "failureAction", fa, ("Audit", "Enforce"))
                # Kyverno's loop keeps this value for the rule's later entries too
                is_audit = fa != "Enforce"
            built = self.entry(entry, policy, rname, i, rule_key, is_audit)
            info.entries.append(built)
            self.entry_count += 1
            self.current_entry = None

    def entry(self, e: Obj, policy: str, rname: str, i: int, rule_key: int, is_audit: bool) -> VerifyEntry:
        d = self.diag
        mutate_digest = e.get("mutateDigest") if e.has("mutateDigest") else True
        verify_digest = e.get("verifyDigest") if e.has("verifyDigest") else True
        required = e.get("required") if e.has("required") else True
        use_cache = e.get("useCache") if e.has("useCache") else True
        vtype = e.get("type") or "Cosign"
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
        for field_name, seq, patterns in (("imageReferences", refs_seq, refs_seq.items if isinstance(refs_seq, Seq) else []),
                                          ("skipImageReferences", skips_seq, skips)):
            if not isinstance(seq, Seq):
                continue
            for pattern, node in zip(seq.items, seq.nodes):
                for sev, code, msg, fix in lint.image_reference_findings(pattern, field_name == "skipImageReferences"):
                    d(sev, code, msg, position(node), fix, end_position(node))
        if e.get("image"):
            for sev, code, msg, fix in lint.image_reference_findings(e.get("image"), False):
                d(sev, code, msg, e.value_pos("image"), fix)
        if vtype == "Notary":
            d("info", "kyverno-notary-unsupported", "type Notary is not supported for verification by pullguard",
              e.value_pos("type"), None)
        sets = [self.attestor_set(s, f"attestors[{j}]", vtype) for j, s in enumerate(seq_items(e.get("attestors")))]
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
            asets = [self.attestor_set(s, f"attestations[{j}].attestors[{k}]", vtype)
                     for k, s in enumerate(seq_items(a.get("attestors")))]
            if e.get("key") or e.get("issuer") or e.get("annotations"):
                asets.append(self.legacy_attestor(e))
            attestations.append((atype, asets))
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
        )

    def legacy_attestor(self, e: Obj) -> AttestorSetReq:
        if e.get("key"):
            verifiers = self.public_keys(e.get("key"), "key", e.value_pos("key"), None)
            return AttestorSetReq(None, [AttestorReq("keys", "key", v) for v in verifiers] or [AttestorReq("keys", "key")])
        if e.get("issuer"):
            v = KeylessVerifier(issuer=e.get("issuer"), subject=e.get("subject") or None, match="wildcard",
                                roots=e.get("roots") or None, rekor_url=DEFAULT_REKOR_URL)
            if not e.get("roots"):
                # Convert() builds a keyless attestor without rekor: Kyverno's own check applies
                self.diag("error", "kyverno-keyless-rekor-or-roots", "Either Rekor URL or roots are required",
                          e.key_pos("issuer"), "add 'roots:' or move to attestors with 'keyless.rekor.url'")
            return AttestorSetReq(None, [AttestorReq("keyless", "issuer", v)])
        return AttestorSetReq(None, [AttestorReq("none", "annotations")])

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
        out: list[AttestorReq] = []
        if a.has("keys"):
            out.extend(self.keys(a.get("keys"), path))
        if a.has("certificates"):
            c = a.get("certificates")
            if not c.get("cert") and not c.get("certChain"):
                d("error", "kyverno-cert-required", "cert or certChain required", a.key_pos("certificates"),
                  "add 'cert: |' with the signer's PEM certificate")
            if vtype != "Notary":
                d("info", "kyverno-certificates-unsupported",
                  "certificates attestors are not verified by pullguard (reported as requirements only)",
                  a.key_pos("certificates"))
            rekor = c.get("rekor") if c.has("rekor") else None
            self._check_rekor_ctlog(c)
            out.append(AttestorReq("certificates", path, None, detail="(certificate)" if c.get("cert") else "(certificate chain)"))
            _ = rekor
        if a.has("keyless"):
            out.append(self.keyless(a.get("keyless"), a, path))
        if a.has("attestor"):
            nested = self.attestor_set(a.get("attestor"), f"{path}.attestor", vtype)
            out.append(AttestorReq("nested", path, None, nested))
        if not out:
            out.append(AttestorReq("none", path))
        return out

    def _rekor(self, obj: Obj) -> tuple[str | None, str | None, bool]:
        """(url, pubkey, ignoreTlog) with Kyverno's defaults when `rekor` is absent."""
        if not obj.has("rekor"):
            return DEFAULT_REKOR_URL, None, False
        r = obj.get("rekor")
        return r.get("url") or None, r.get("pubkey") or None, bool(r.get("ignoreTlog"))

    def _check_rekor_ctlog(self, obj: Obj) -> None:
        for key in ("rekor", "ctlog"):
            if obj.has(key) and obj.get(key).get("pubkey"):
                sub = obj.get(key)
                text = sub.get("pubkey")
                if lint.key_material_kind(text) == "pem":
                    finding, _ = lint.pem_key_finding(f"{key}.pubkey", text)
                    if finding:
                        self.diag(finding[0], finding[1], finding[2], sub.value_pos("pubkey"), finding[3])

    def public_keys(self, text: str, field_name: str, pos: Pos, rekor) -> list[PublicKeyVerifier]:
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
                                         ignore_tlog=ignore, rekor_pubkey=rekor_pub))
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
              k.key_pos("signatureAlgorithm"), "move it one level up, beside 'keys'")
        rekor = self._rekor(k)
        self._check_rekor_ctlog(k)
        if not k.has("rekor") and k.get("publicKeys"):
            d("info", "kyverno-keys-tlog-default",
              "without 'rekor', Kyverno requires a Rekor transparency log entry for key signatures "
              "(https://rekor.sigstore.dev, ignoreTlog false)",
              k.key_pos("publicKeys"), "for keys signed with '--tlog-upload=false' add 'rekor: {ignoreTlog: true, url: https://rekor.sigstore.dev}'")
        if k.get("publicKeys"):
            verifiers = self.public_keys(k.get("publicKeys"), "keys.publicKeys", k.value_pos("publicKeys"), rekor)
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
        url, rekor_pub, ignore_tlog = self._rekor(k) if k.has("rekor") else (DEFAULT_REKOR_URL, None, False)
        ctlog = k.get("ctlog") if k.has("ctlog") else None
        v = KeylessVerifier(
            issuer=k.get("issuer") or None, subject=k.get("subject") or None,
            subject_regex=k.get("subjectRegExp") or None, issuer_regex=k.get("issuerRegExp") or None,
            match="wildcard", roots=k.get("roots") or None, rekor_url=url, rekor_pubkey=rekor_pub,
            ignore_tlog=ignore_tlog, ctlog_pubkey=(ctlog.get("pubkey") or None) if ctlog else None,
            ignore_sct=bool(ctlog.get("ignoreSCT")) if ctlog else False,
        )
        return AttestorReq("keyless", path, v)


def load(docs: list[Document], path: str) -> tuple[KyvernoPolicySet, list[Diagnostic]]:
    """Every Kyverno policy document of the file; other documents are ignored."""
    loader = _Loader(path)
    for doc in docs:
        if detect(doc):
            try:
                loader.document(doc)
            except RecursionError:  # absurdly nested attestors
                loader.diag("error", "kyverno-too-deep", "attestors are nested too deeply", position(doc.root))
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
    ordered = all(a <= b for a, b in zip(starts, starts[1:])) and all(a <= b for a, b in zip(ends, ends[1:]))
    out = []
    for d in diags:
        if d.rule_index is None and d.line is not None:
            if ordered:
                i = bisect_left(ends, d.line)  # the first entry ending at or after the line
                if i < bisect_right(starts, d.line):
                    d = replace(d, rule_index=entries[i].index)
            else:
                for e in entries:
                    if e.line <= d.line <= e.end_line:
                        d = replace(d, rule_index=e.index)
                        break
        out.append(d)
    return out
