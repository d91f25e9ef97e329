"""Kyverno `verifyImages` (ClusterPolicy/Policy) rewritten as ImageValidatingPolicy documents.

Each verifyImages entry becomes one ImageValidatingPolicy (a `Policy` one namespaced):

- Matching. ClusterPolicy matches go-wildcard patterns against Kyverno's normalized string
  (`nginx` is `docker.io/nginx:latest`, a digest replaces the tag); ImageValidatingPolicy matches
  gobwas globs against the string as written. A pattern `REGISTRY/path*` whose host is a real
  registry and whose path has no `:`, `@`, `?` or other `*` matches the same images either way and
  is kept as a glob; any other pattern, and every entry with skipImageReferences, becomes one CEL
  expression that rebuilds Kyverno's normalized string from `ref` and matches the patterns as RE2
  (go-wildcard `*` is `.*`, `?` is `.`): the same images, not a near miss.
- Attestors. Every attestor entry (keys, keyless, certificates: a `cert` alone as the key it holds,
  a `certChain` as cosign.certificate) becomes a named cosign attestor; each attestor
  set becomes a validation `verifyImageSignatures(image, [its attestors]) >= count` over every
  container kind (`count` null: all of them). Keyless `issuer`/`subject` are Kyverno wildcards and
  become anchored `issuerRegExp`/`subjectRegExp` when they hold `*` or `?`.
- required, mutateDigest and verifyDigest go to validationConfigurations, failureAction to
  validationActions (Enforce: Deny), an attestor's repository (else the entry's) to its
  cosign.source.repository.

- Attestations become in-toto attestations of their type, each attestor set a validation
  `verifyAttestationSignatures(image, attestations.N, [its attestors]) >= count`, and their
  conditions one validation over `extractPayload(image, attestations.N)` where CEL says exactly
  what they say (conditions_cel.py: Equals/NotEquals of a field with a text or boolean value).

What cannot be carried over (other attestation conditions, which are JMESPath over every statement,
nested attestor sets, annotations, additionalExtensions, preconditions, kinds other
than pods, any other key) is a warning with its source line; where dropping it would admit more
(an attestor set or conditions), a validation that is false takes its place, so a lossy conversion
denies rather than admits. Documents that are not Kyverno policies (pullguard's registry
mirrors) are copied as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ...display import escape_control
from ...vocabulary import KeylessVerifier, PublicKeyVerifier
from ...yamlsource import MappingNode, Node, ScalarNode, SequenceNode, compose, map_get, position
from ..detect import is_kyverno
from ..kyverno.evaluate import KyvernoPolicySet
from ..kyverno.requirements import AttestationReq, AttestorReq, AttestorSetReq, VerifyEntry
from .conditions_cel import conditions_cel
from .policyset import IvpolPolicySet

_RESOURCE_RULES = ("  matchConstraints:\n    resourceRules:\n"
                   "      - apiGroups: [\"\"]\n        apiVersions: [v1]\n        operations: [CREATE, UPDATE]\n"
                   "        resources: [pods]\n")
_POD_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "*"})
_ALL_IMAGES = "(images.containers + images.initContainers + images.ephemeralContainers)"

# Kyverno's normalized image string (pkg/utils/image.GetImageInfo), rebuilt in CEL from `ref`:
# docker.io/ before a name without a registry, the tag dropped before a digest, :latest added.
_FIRST = "ref.split('/')[0]"
KYVERNO_STRING = (
    f"cel.bind(n, ref.contains('/') && ({_FIRST}.contains('.') || {_FIRST}.contains(':') || {_FIRST} == 'localhost'"
    f" || {_FIRST}.lowerAscii() != {_FIRST}) ? ref : 'docker.io/' + ref, "
    "n.contains('@') ? cel.bind(h, n.substring(0, n.indexOf('@')), "
    "(h.lastIndexOf(':') > h.lastIndexOf('/') ? h.substring(0, h.lastIndexOf(':')) : h) + n.substring(n.indexOf('@'))) "
    ": (n.lastIndexOf(':') > n.lastIndexOf('/') ? n : n + ':latest'))"
)


@dataclass(frozen=True)
class _Source:
    """What a source policy document says beside its rules."""

    kind: str  # ClusterPolicy or Policy
    namespace: str | None
    failure_policy: str | None  # spec.failurePolicy (Ignore or Fail), carried as written
    timeout: str | None  # spec.webhookTimeoutSeconds


@dataclass(frozen=True)
class Lossy:
    """What could not be carried over, at its line in the source policy."""

    line: int
    message: str


@dataclass(frozen=True)
class Converted:
    entry: VerifyEntry
    name: str  # the ImageValidatingPolicy's metadata.name


@dataclass
class Conversion:
    text: str
    warnings: list[Lossy]
    policies: list[Converted]


# --- patterns --------------------------------------------------------------------------------

_REGISTRY = re.compile(r"(?:[A-Za-z0-9.-]+\.[A-Za-z0-9.-]+|localhost|[A-Za-z0-9.-]+:[0-9]+)(?::[0-9]+)?")
_PATH = re.compile(r"[a-z0-9._/-]*")
_GOBWAS_SPECIAL = re.compile(r"([*?\[\]{}\\])")


def glob_for(pattern: str) -> str | None:
    """A gobwas glob that takes exactly the images the go-wildcard pattern takes after Kyverno's
    normalization, or None when no glob does."""
    host, slash, rest = pattern.partition("/")
    if not slash or not rest.endswith("*") or host in ("docker.io", "index.docker.io"):
        return None
    if not _REGISTRY.fullmatch(host) or not _PATH.fullmatch(rest[:-1]):
        return None
    return _GOBWAS_SPECIAL.sub(r"\\\1", f"{host}/{rest[:-1]}") + "*"


def wildcard_regex(pattern: str) -> str:
    """go-wildcard (IGLOU-EU v1.0.3) as an anchored RE2: `*` any run, `?` one character."""
    return "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + "$"


def _cel_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _bind_body(body: str) -> str:
    """`body` with `n` bound to Kyverno's normalized string of `ref`."""
    return f"cel.bind(n, {KYVERNO_STRING}, {body})"


# --- YAML of the output ----------------------------------------------------------------------

def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _block(text: str, indent: int) -> str:
    pad = " " * indent
    return "|-\n" + "\n".join(pad + line if line else "" for line in text.strip("\n").splitlines())


def dns_name(*parts: str) -> str:
    name = re.sub(r"[^a-z0-9.-]+", "-", "-".join(parts).lower()).strip("-.")
    return name[:253].rstrip("-.") or "converted"


class _Writer:
    def __init__(self, path: str, kinds: dict[str, _Source]):
        self.path = path
        self.kinds = kinds
        self.warnings: list[Lossy] = []

    def lossy(self, line: int, message: str) -> None:
        self.warnings.append(Lossy(line, message))

    def attestor(self, name: str, req: AttestorReq, entry: VerifyEntry, lines: list[str]) -> bool:
        verifier = req.verifier
        if isinstance(verifier, PublicKeyVerifier):
            lines += [f"    - name: {name}", "      cosign:", "        key:",
                      f"          data: {_block(verifier.pem, 12)}"]
            if verifier.hash_algorithm not in (None, "sha256"):  # signatureAlgorithm: the same digest
                lines.append(f"          hashAlgorithm: {verifier.hash_algorithm}")
            ctlog = []
            if verifier.ignore_tlog:
                ctlog.append("          insecureIgnoreTlog: true")
            if verifier.rekor_pubkey:
                ctlog.append(f"          rekorPubKey: {_block(verifier.rekor_pubkey, 12)}")
        elif isinstance(verifier, KeylessVerifier) and req.kind == "certificates":
            # a certChain (with or without cert): the same verifier as cosign.certificate
            lines += [f"    - name: {name}", "      cosign:", "        certificate:"]
            if verifier.certificate:
                lines += ["          cert:", f"            value: {_block(verifier.certificate, 14)}"]
            lines += ["          certChain:", f"            value: {_block(verifier.roots or '', 14)}"]
            ctlog = self._ctlog(verifier)
        elif isinstance(verifier, KeylessVerifier):
            identity = []
            for key, exact, regex in (("issuer", verifier.issuer, verifier.issuer_regex),
                                      ("subject", verifier.subject, verifier.subject_regex)):
                if exact and any(c in exact for c in "*?"):
                    if regex:
                        self.lossy(entry.line, f"{entry.rule_id} {req.path}: keyless {key} wildcard '{exact}' together with "
                                   f"{key}RegExp cannot be written as one identity; only {key}RegExp is kept")
                    else:
                        regex = wildcard_regex(exact)
                    exact = None
                if exact:
                    identity.append(f"{key}: {_q(exact)}")
                if regex:
                    identity.append(f"{key}RegExp: {_q(regex)}")
            lines += [f"    - name: {name}", "      cosign:", "        keyless:", "          identities:"]
            lines += [("            - " if i == 0 else "              ") + part for i, part in enumerate(identity or ["{}"])]
            if verifier.roots:
                lines.append(f"          roots: {_block(verifier.roots, 12)}")
            ctlog = self._ctlog(verifier)
        else:
            self.lossy(entry.line, f"{entry.rule_id} {req.path}: {req.kind} attestors are not carried over")
            return False
        if ctlog:
            lines += ["        ctlog:"] + ctlog
        if req.repository:  # the attestor's own, else the entry's (parsed as cosign parses it)
            lines += ["        source:", f"          repository: {_q(req.repository)}"]
        return True

    @staticmethod
    def _ctlog(verifier: KeylessVerifier) -> list[str]:
        ctlog = []
        if verifier.rekor_url:
            ctlog.append(f"          url: {_q(verifier.rekor_url)}")
        if verifier.ignore_tlog:
            ctlog.append("          insecureIgnoreTlog: true")
        if verifier.rekor_pubkey:
            ctlog.append(f"          rekorPubKey: {_block(verifier.rekor_pubkey, 12)}")
        if verifier.ctlog_pubkey:
            ctlog.append(f"          ctLogPubKey: {_block(verifier.ctlog_pubkey, 12)}")
        if verifier.ignore_sct:
            ctlog.append("          insecureIgnoreSCT: true")
        return ctlog

    def entry(self, converted: Converted) -> str:
        entry = converted.entry
        source = self.kinds.get(entry.policy, _Source("ClusterPolicy", None, None, None))
        kind, namespace = source.kind, source.namespace
        attestor_lines, attestation_lines, validations = self.checks(entry)
        # names and paths from the source, on one comment line: escaped, so a line break in a name
        # cannot start a YAML key of its own
        lines = [f"# {escape_control(f'{kind} {entry.policy}, rule {entry.rule}, verifyImages[{entry.entry}]')}"
                 f" ({escape_control(self.path)}:{entry.line})",
                 "apiVersion: policies.kyverno.io/v1",
                 f"kind: {'NamespacedImageValidatingPolicy' if kind == 'Policy' else 'ImageValidatingPolicy'}",
                 "metadata:", f"  name: {converted.name}"]
        if kind == "Policy" and namespace:
            lines.append(f"  namespace: {_q(namespace)}")
        # With no validation nothing checks a signature, and `required` would fail every image
        # (Kyverno's EnforceRequired), where the ClusterPolicy entry admits it unchecked.
        required = entry.required and bool(validations)
        lines += ["spec:"]
        if source.failure_policy in ("Ignore", "Fail"):
            lines.append(f"  failurePolicy: {source.failure_policy}")
        if source.timeout is not None and source.timeout.isdigit():
            lines += ["  webhookConfiguration:", f"    timeoutSeconds: {source.timeout}"]
        lines += [f"  validationActions: [{'Audit' if entry.failure_action == 'Audit' else 'Deny'}]",
                  "  validationConfigurations:", f"    required: {_bool(required)}",
                  f"    mutateDigest: {_bool(entry.mutate_digest)}", f"    verifyDigest: {_bool(entry.verify_digest)}"]
        text = "\n".join(lines) + "\n" + _RESOURCE_RULES
        text += "  matchImageReferences:\n" + "".join(f"    - {line}\n" for line in self.references(entry))
        text += "  attestors:" + ("\n" + "\n".join(attestor_lines) if attestor_lines else " []") + "\n"
        if attestation_lines:
            text += "  attestations:\n" + "\n".join(attestation_lines) + "\n"
        text += "  validations:" + ("\n" + "\n".join(validations) if validations else " []") + "\n"
        return text

    def checks(self, entry: VerifyEntry) -> tuple[list[str], list[str], list[str]]:
        """The attestors, attestations and validations lines of an entry's attestor sets and
        attestations."""
        attestor_lines: list[str] = []
        attestation_lines: list[str] = []
        validations: list[str] = []
        counter = [0]
        if entry.type == "Notary":
            self.lossy(entry.line, f"{entry.rule_id}: type Notary is not carried over (notary attestors need their certificates)")
        for n, aset in enumerate(entry.attestor_sets):
            validations += self._set(entry, aset, f"attestors[{n}]", None, counter, attestor_lines)
        for j, attestation in enumerate(entry.attestations):
            where = f"{entry.rule_id} {attestation.path}"
            if not attestation.type:
                self.lossy(entry.line, f"{where}: an attestation without a type is not carried over")
                validations += _refused(f"{where} has no type: write it by hand")
                continue
            name = f"attestation{j}"
            attestation_lines += [f"    - name: {name}", "      intoto:", f"        type: {_q(attestation.type)}"]
            if not attestation.attestor_sets:
                self.lossy(entry.line, f"{where}: an attestation without attestors (any keyless signer) is not carried over")
                validations += _refused(f"{where} has no attestors: write them by hand")
            for k, aset in enumerate(attestation.attestor_sets):
                validations += self._set(entry, aset, f"{attestation.path}.attestors[{k}]", name, counter, attestor_lines)
            if attestation.conditions:  # never dropped silently: written exactly, or refused
                validations += self._conditions(attestation, where, name, entry.line)
        return attestor_lines, attestation_lines, validations

    def _conditions(self, attestation: AttestationReq, where: str, name: str, line: int) -> list[str]:
        """The validation of an attestation's conditions over its payload, or a refusal where
        they cannot be written exactly (conditions_cel says which)."""
        condition = conditions_cel(attestation.conditions, attestation.name)
        if condition is None:
            self.lossy(line, f"{where}: conditions are not carried over (only Equals/NotEquals of a field with a "
                       f"text or boolean value are); write them as validations over "
                       f"extractPayload(image, attestations.{name})")
            return _refused(f"{where} conditions were not converted: write them by hand")
        check = f"cel.bind(p, extractPayload(image, attestations.{name}), {condition})"
        message = f"attestation {attestation.type} fails its conditions ({where}.conditions)"
        return [f"    - expression: >-\n        {_ALL_IMAGES}.all(image, {check})", f"      message: {_q(message)}"]

    def _set(self, entry: VerifyEntry, aset: AttestorSetReq, path: str, attestation: str | None, counter: list[int],
             attestor_lines: list[str]) -> list[str]:
        """The validation of one attestor set (its attestors appended to `attestor_lines`)."""
        names = []
        for req in self._flat(aset, entry):
            name = f"{'keyless' if isinstance(req.verifier, KeylessVerifier) else 'key'}{counter[0]}"
            counter[0] += 1
            if self.attestor(name, req, entry, attestor_lines):
                names.append(name)
        required = aset.required
        if len(names) < required:  # never weaker than the original: such a set fails every image
            return _refused(f"{entry.rule_id} {path} needs {required} attestors and only {len(names)} could be "
                            "converted: write the others by hand")
        listed = ", ".join(f"attestors.{name}" for name in names)
        if attestation is None:
            call = f"verifyImageSignatures(image, [{listed}])"
            what = "image signature verification"
        else:
            call = f"verifyAttestationSignatures(image, attestations.{attestation}, [{listed}])"
            what = "attestation verification"
        message = f"{what} failed ({entry.rule_id} {path}): fewer than {required} of {len(names)} attestors verified"
        return [f"    - expression: >-\n        {_ALL_IMAGES}.all(image, {call} >= {required})",
                f"      message: {_q(message)}"]

    def _flat(self, aset: AttestorSetReq, entry: VerifyEntry) -> Iterator[AttestorReq]:
        for req in aset.entries:
            if req.nested is not None:
                self.lossy(entry.line, f"{entry.rule_id} {req.path}: nested attestor sets are not carried over")
                continue
            yield req

    def references(self, entry: VerifyEntry) -> list[str]:
        # A reference that is also a skip pattern takes nothing; a skip pattern that can take
        # nothing the other references take removes nothing.
        refs = [r for r in entry.image_references if r not in entry.skip_image_references]
        skips = [s for s in entry.skip_image_references if any(not _disjoint(s, r) for r in refs)]
        globs = [glob_for(r) for r in refs]
        if not skips and all(g is not None for g in globs) and globs:
            return [f"glob: {_q(str(g))}" for g in globs]
        return [f"expression: {_q(_bind_body(_match_body(refs, skips)))}"]


def _disjoint(a: str, b: str) -> bool:
    """No string matches both wildcard patterns: their literal beginnings differ."""
    for x, y in zip(a, b, strict=False):
        if x in "*?" or y in "*?":
            return False
        if x != y:
            return True
    return False


def _match_body(refs: list[str], skips: list[str]) -> str:
    def any_of(patterns: list[str]) -> str:
        return " || ".join(f"n.matches({_cel_string(wildcard_regex(p))})" for p in patterns)

    taken = any_of(refs) or "false"
    return f"({taken}) && !({any_of(skips)})" if skips else taken


def _refused(message: str) -> list[str]:
    """A validation that is false: what could not be converted denies the image rather than admit it."""
    return ['    - expression: "false"', f"      message: {_q(message)}"]


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --- keys the conversion carries, relative to a verifyImages entry -----------------------------

_ATTESTOR_CARRIED = {
    "keys", "keys.publicKeys", "keys.signatureAlgorithm", "keys.rekor", "keys.rekor.pubkey", "keys.rekor.ignoreTlog",
    "keys.ctlog", "keys.ctlog.ignoreSCT", "keys.ctlog.pubkey",
    "keyless", "keyless.issuer", "keyless.subject", "keyless.issuerRegExp", "keyless.subjectRegExp", "keyless.roots",
    "keyless.rekor", "keyless.rekor.url", "keyless.rekor.pubkey", "keyless.rekor.ignoreTlog",
    "keyless.ctlog", "keyless.ctlog.ignoreSCT", "keyless.ctlog.pubkey", "repository", "signatureAlgorithm",
    "certificates", "certificates.cert", "certificates.certChain", "certificates.rekor", "certificates.rekor.url",
    "certificates.rekor.pubkey", "certificates.rekor.ignoreTlog", "certificates.ctlog", "certificates.ctlog.ignoreSCT",
    "certificates.ctlog.pubkey",
}
_ENTRY_CARRIED = {"imageReferences", "skipImageReferences", "required", "mutateDigest", "verifyDigest", "failureAction",
                  "useCache", "type", "repository", "attestors", "image"}
_SET_CARRIED = {"count", "entries"}
_DEFAULT_REKOR = "https://rekor.sigstore.dev"
_REPORTED_ELSEWHERE = {"attestations", "attestor"}  # said once by _Writer


def _uncarried(entry: Node) -> Iterator[tuple[str, Node]]:
    if not isinstance(entry, MappingNode):
        return
    for key_node, value in entry.value:
        key = str(key_node.value)
        if key not in _ENTRY_CARRIED:
            if key != "attestations":
                yield key, key_node
            continue
        if key == "attestors" and isinstance(value, SequenceNode):
            for i, aset in enumerate(value.value):
                if not isinstance(aset, MappingNode):
                    continue
                for set_key, set_value in aset.value:
                    if set_key.value not in _SET_CARRIED:
                        yield f"attestors[{i}].{set_key.value}", set_key
                    elif set_key.value == "entries" and isinstance(set_value, SequenceNode):
                        for j, attestor in enumerate(set_value.value):
                            yield from (
                                (f"attestors[{i}].entries[{j}].{path}", node)
                                for path, node in _attestor_uncarried(attestor, ""))


def _attestor_uncarried(node: Node, prefix: str) -> Iterator[tuple[str, Node]]:
    if not isinstance(node, MappingNode):
        return
    for key_node, value in node.value:
        path = f"{prefix}{key_node.value}"
        if path in _REPORTED_ELSEWHERE:
            continue
        if path == "keys.rekor.url" and isinstance(value, ScalarNode) and value.value == _DEFAULT_REKOR:
            continue  # the default: nothing to carry
        if path not in _ATTESTOR_CARRIED:
            yield path, key_node
        elif isinstance(value, MappingNode):
            yield from _attestor_uncarried(value, path + ".")


def _entry_nodes(text: str) -> tuple[dict[tuple[str, str, int], Node], dict[str, _Source], list[str]]:
    """verifyImages entry nodes by (policy, rule, index); what each policy says beside its rules;
    the text of every document that is not a Kyverno policy."""
    docs, _ = compose(text)
    nodes: dict[tuple[str, str, int], Node] = {}
    kinds: dict[str, _Source] = {}
    others: list[str] = []
    for doc in docs:
        root = doc.root
        if root is None:
            continue
        if not is_kyverno(doc):
            # From the start of its line when only spaces come before it: an indented block
            # collection read from its first item's column would be a syntax error.
            start = root.start_mark.index
            line_start = text.rfind("\n", 0, start) + 1
            if not text[line_start:start].strip(" "):
                start = line_start
            others.append(text[start:root.end_mark.index].rstrip() + "\n")
            continue
        metadata = map_get(root, "metadata")
        name = map_get(metadata, "name") if metadata is not None else None
        namespace = map_get(metadata, "namespace") if metadata is not None else None
        kind = map_get(root, "kind")
        policy = name.value if isinstance(name, ScalarNode) else ""
        spec = map_get(root, "spec")
        failure, timeout = map_get(spec, "failurePolicy"), map_get(spec, "webhookTimeoutSeconds")
        kinds[policy] = _Source(kind.value if isinstance(kind, ScalarNode) else "ClusterPolicy",
                                namespace.value if isinstance(namespace, ScalarNode) else None,
                                failure.value if isinstance(failure, ScalarNode) else None,
                                timeout.value if isinstance(timeout, ScalarNode) else None)
        rules = map_get(spec, "rules")
        for rule in rules.value if isinstance(rules, SequenceNode) else []:
            rule_name = map_get(rule, "name")
            entries = map_get(rule, "verifyImages")
            for i, entry in enumerate(entries.value if isinstance(entries, SequenceNode) else []):
                nodes[(policy, rule_name.value if isinstance(rule_name, ScalarNode) else "", i)] = entry
    return nodes, kinds, others


def convert(policy: KyvernoPolicySet, text: str, path: str) -> Conversion:
    """The ImageValidatingPolicy documents for every verifyImages entry of `policy` (read from `text`)."""
    nodes, kinds, others = _entry_nodes(text)
    writer = _Writer(path, kinds)
    taken: set[str] = set()
    converted: list[Converted] = []
    for rule in policy.rules:
        for entry in rule.entries:
            parts = [entry.policy, entry.rule] + ([str(entry.entry)] if len(rule.entries) > 1 else [])
            name = dns_name(*parts)
            while name in taken:
                name = dns_name(name, str(entry.index))
            taken.add(name)
            converted.append(Converted(entry, name))
        if not all(f.kinds and all(k in _POD_KINDS for k in f.kinds) for f in rule.match):
            kinds_written = sorted({k for f in rule.match for k in f.kinds})
            line = rule.entries[0].line if rule.entries else 1
            writer.lossy(line, f"rule {rule.policy}/{rule.name} matches {', '.join(kinds_written)}: the converted policies "
                         "match pods (and their controllers through autogen) only")
        if rule.has_preconditions or any(f.other for f in rule.match) or rule.exclude:
            line = rule.entries[0].line if rule.entries else 1
            writer.lossy(line, f"rule {rule.policy}/{rule.name}: match conditions other than kinds, exclude and "
                         "preconditions are not carried over; write them as matchConstraints or matchConditions")
    documents = []
    for item in converted:
        node = nodes.get((item.entry.policy, item.entry.rule, item.entry.entry))
        if node is not None:
            for field, key_node in _uncarried(node):
                writer.lossy(position(key_node)[0], f"{item.entry.rule_id}: '{field}' is not carried over")
        documents.append(writer.entry(item))
    documents += others
    writer.warnings.sort(key=lambda w: w.line)
    return Conversion("---\n".join(documents), writer.warnings, converted)


# --- the proof: both policies over the same images ---------------------------------------------

@dataclass(frozen=True)
class Difference:
    image: str
    old: str  # how the original decides, in words
    new: str  # how the converted policies decide


def compare(original: KyvernoPolicySet, conversion: Conversion, images: Iterable[str]) -> list[Difference]:
    """Every image (once) that the converted policies do not send to the same verification:
    verified by the converted policy of each original entry that verifies it, and no other."""
    from .loader import load_documents

    converted = IvpolPolicySet(load_documents(compose(conversion.text)[0])[0])
    names = {c.entry.rule_id: c.name for c in conversion.policies}
    out = []
    for image in dict.fromkeys(images):
        old, new = original.evaluate(image), converted.evaluate(image)
        old_names = sorted(names.get(f"{r['policy']}/{r['rule']}#{r['entry']}", "?")
                           for r in old.rules or [] if r.get("action") == "verify")
        new_names = sorted(str(r["policy"]) for r in new.rules or [])
        if old.action is None or new.error is not None or old_names != new_names:
            out.append(Difference(image, _describe(old_names, old.error), _describe(new_names, new.error)))
    return out


def _describe(names: list[str], error: str | None) -> str:
    if error is not None:
        return f"error ({error})"
    return f"verify by {', '.join(names)}" if names else "no verification"
