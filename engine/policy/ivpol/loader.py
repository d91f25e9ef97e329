"""Reading ImageValidatingPolicy documents: the CRD's schema, then Kyverno's own compilation.

Schema problems (unknown keys with a did-you-mean, wrong types, the CRD's required fields, its
`oneOf` choices and enums) are reported where they are written. Then every expression is
compiled as Kyverno's policy compiler does (`pkg/image/verification/evaluator/compiler.go`), with
its words (`spec.validations[0].expression: Invalid value: "…": ERROR: <input>:1:5: …`) and the
error at its line and column inside the YAML; globs compile with gobwas's rules. Finally what
Kyverno checks beside compiling (`Validate`: a matchConstraints with a resource rule) and what
pullguard adds: every `attestors.NAME` / `attestations.NAME` an expression uses names a
declared one, and each field pullguard does not verify is said before verification.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

from ...diagnostics import Diagnostic, Severity
from ...gobglob import GlobError, compile_glob
from ...goregexp import compile_error
from ...keys import KeyFormatError, load_public_key_pem
from ...reference import InvalidReference, parse_repository
from ...signatures.keyverify import HASH_ALGORITHMS
from ...vocabulary import KeylessVerifier, PublicKeyVerifier, Verifier
from ...yamlschema import Obj, Seq, Walker, close_key, seq_items, string_map
from ...yamlsource import Document, MappingNode, Node, ScalarNode, map_get, position
from ..certificates import certificate_problem, certificate_verifier
from ..detect import is_image_validating_policy
from . import exceptions, expressions, schema
from .exceptions import PolicyException, is_cel_exception
from .expressions import CelProblem, Compiled, Expected
from .model import (
    Attestation,
    Attestor,
    ImageMatch,
    ImageValidatingPolicy,
    NamedExpression,
    Validation,
)
from .positions import expression_position
from .selection import LabelSelector, ResourceRule, Selection

Pos = tuple[int, int]


detect = is_image_validating_policy


def _value_node(obj: Obj, key: str) -> Node | None:
    found = None
    if isinstance(obj.node, MappingNode):
        for key_node, value_node in obj.node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                found = value_node
    return found


class _Loader:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.policy_index: int | None = None
        self.walker = Walker(self.diagnostics.append, lambda: self.policy_index)
        self.policies: list[ImageValidatingPolicy] = []
        self.exceptions: list[PolicyException] = []
        # (kind, name, where) of every policyRefs entry, checked against the file's policies
        self.refs: list[tuple[str, str, Pos]] = []

    def diag(self, severity: Severity, code: str, message: str, pos: Pos | None, fix: str | None = None,
             end: Pos | None = None) -> None:
        self.walker.diag(severity, code, message, pos, fix, end)

    # -- the CRD's schema beyond types: required fields, oneOf, enums --------------------------

    def shape(self, obj: Obj, path: str) -> None:
        for key in schema.REQUIRED.get(obj.schema, ()):
            if not obj.has(key):
                self.diag("error", "ivpol-required", f"{_join(path, key)}: Required value", obj.start,
                          f"add '{key}' to {path or 'the document'}")
        choices = schema.ONE_OF.get(obj.schema)
        if choices is not None:
            written = [k for k in choices if obj.has(k)]
            if len(written) != 1:
                where = obj.key_pos(written[1]) if len(written) > 1 else obj.start
                self.diag("error", "ivpol-one-of", f"{path}: exactly one of {' or '.join(choices)} must be set", where)
        for key, value in obj.values.items():
            if isinstance(value, Obj):
                self.shape(value, _join(path, key))
            elif isinstance(value, Seq):
                for i, item in enumerate(value.items):
                    if isinstance(item, Obj):
                        self.shape(item, f"{_join(path, key)}[{i}]")

    def enum(self, obj: Obj, key: str, path: str, allowed: tuple[str, ...]) -> None:
        values = [obj.get(key)] if isinstance(obj.get(key), str) else list(seq_items(obj.get(key)))
        for value in values:
            if obj.has(key) and value not in allowed:
                supported = ", ".join(f'"{a}"' for a in allowed)
                close = close_key(value, allowed)
                self.diag("error", "ivpol-unsupported-value",
                          f'{path}: Unsupported value: "{value}": supported values: {supported}', obj.value_pos(key),
                          f"did you mean '{close}'?" if close else None)

    # -- expressions -------------------------------------------------------------------------

    def compile(self, env: Any, obj: Obj, key: str, path: str, expected: Expected) -> Compiled | None:
        text = obj.get(key)
        if not obj.has(key) or not isinstance(text, str):
            return None
        result = expressions.compile_expression(env, text, expected)
        if isinstance(result, CelProblem):
            self.cel_problem(obj, key, path, text, result)
            return None
        if result.program is None:
            self.diag("warning", "ivpol-cel-library",
                      f"{_join(path, key)}: pullguard does not evaluate Kyverno's {', '.join(result.unavailable)} library "
                      "(cluster and network lookups); an image whose verdict needs this expression is an error at "
                      "verification", obj.value_pos(key))
        return result

    def cel_problem(self, obj: Obj, key: str, path: str, text: str, problem: CelProblem) -> None:
        node = _value_node(obj, key)
        pos = obj.value_pos(key)
        if isinstance(node, ScalarNode):
            pos = expression_position(node, problem.line, problem.column, obj.start[1] + 1)
        self.diag("error", "ivpol-cel", f"{_join(path, key)}: Invalid value: {_quoted(text)}: {problem.message}", pos)

    # -- documents ---------------------------------------------------------------------------

    def document(self, doc: Document) -> None:
        root = doc.root
        assert root is not None
        self.policy_index = len(self.policies)
        obj = self.walker.obj(schema.POLICY, root, "ImageValidatingPolicy document")
        if obj is None:
            return
        self.shape(obj, "")
        api, kind = obj.get("apiVersion"), obj.get("kind")
        version = api.partition("/")[2]
        if version not in schema.API_VERSIONS:
            self.diag("error", "ivpol-api-version", f'no matches for kind "{kind}" in version "{api}"',
                      obj.value_pos("apiVersion"), f"use apiVersion: {schema.API_GROUP}/v1")
        elif version == "v1alpha1":
            self.diag("warning", "ivpol-deprecated-version", f"{api} {kind} is deprecated; use {schema.API_GROUP}/v1",
                      obj.value_pos("apiVersion"), f"use apiVersion: {schema.API_GROUP}/v1")
        name, namespace = self.metadata(obj, kind)
        if kind == "NamespacedImageValidatingPolicy":
            self.diag("info", "ivpol-namespaced-scope",
                      f"NamespacedImageValidatingPolicy applies only to resources in namespace '{namespace or 'default'}': "
                      "image references given alone have no namespace and are not checked by it",
                      obj.value_pos("kind"), "give the images as manifests or `kubectl get pods -A -o json`")
        spec = obj.obj("spec")
        if spec is None:
            return
        self.policies.append(self.spec(spec, name, kind, namespace, obj))

    def metadata(self, obj: Obj, kind: str) -> tuple[str, str | None]:
        node = obj.get("metadata")
        name_node = map_get(node, "name") if isinstance(node, MappingNode) else None
        namespace_node = map_get(node, "namespace") if isinstance(node, MappingNode) else None
        if not isinstance(name_node, ScalarNode) or not name_node.value:
            self.diag("error", "ivpol-name-required", "metadata.name: Required value: name or generateName is required",
                      obj.key_pos("metadata") if obj.has("metadata") else obj.start, "add 'metadata: {name: …}'")
            name = f"{kind}-{self.policy_index}"
        else:
            name = name_node.value
        namespace = namespace_node.value if isinstance(namespace_node, ScalarNode) and namespace_node.value else None
        if kind == "ImageValidatingPolicy" and namespace is not None and namespace_node is not None:
            self.diag("warning", "ivpol-cluster-scoped", "ImageValidatingPolicy is cluster-scoped: metadata.namespace is ignored",
                      position(namespace_node), "use NamespacedImageValidatingPolicy for a namespace's policy")
        return name, namespace

    def spec(self, spec: Obj, name: str, kind: str, namespace: str | None, document: Obj) -> ImageValidatingPolicy:
        self.enum(spec, "failurePolicy", "spec.failurePolicy", schema.FAILURE_POLICIES)
        self.enum(spec, "validationActions", "spec.validationActions", schema.VALIDATION_ACTIONS)
        credentials = spec.obj("credentials")
        if credentials is not None:
            self.enum(credentials, "providers", "spec.credentials.providers", schema.CREDENTIAL_PROVIDERS)
        matches = tuple(self.image_matches(spec))
        self.match_constraints(spec)
        env = expressions.policy_env()
        conditions = []
        for i, item in enumerate(seq_items(spec.get("matchConditions"))):
            if isinstance(item, Obj):
                condition = self.named(env, item, f"spec.matchConditions[{i}]", "bool")
                if condition is not None:
                    conditions.append(condition)
        variables: list[NamedExpression] = []
        types: list[tuple[str, Any]] = []
        for i, item in enumerate(seq_items(spec.get("variables"))):
            if not isinstance(item, Obj):
                continue
            variable = self.named(expressions.policy_env(tuple(types)), item, f"spec.variables[{i}]", "any")
            if variable is not None:
                variables.append(variable)
                types.append((variable.name, variable.expression.output))
            elif item.get("name"):  # reported; later expressions may still use it
                types.append((str(item.get("name")), expressions.T.DYN))
        env = expressions.policy_env(tuple(types))
        extractors = []
        for i, item in enumerate(seq_items(spec.get("images"))):
            if isinstance(item, Obj):
                extractor = self.named(env, item, f"spec.images[{i}]", "images")
                if extractor is not None:
                    extractors.append(extractor)
        validations = tuple(self.validations(env, spec))
        for i, item in enumerate(seq_items(spec.get("auditAnnotations"))):
            if isinstance(item, Obj):
                self.compile(env, item, "valueExpression", f"spec.auditAnnotations[{i}]", "audit")
        attestors = tuple(self.attestors(env, spec))
        attestations = tuple(self.attestations(spec))
        self.references(spec, {a.name for a in attestors}, {a.name for a in attestations})
        self.usage_lints(spec, _flag(spec.obj("validationConfigurations"), "required"))
        config = spec.obj("validationConfigurations")
        broken = any(d.severity == "error" and d.rule_index == self.policy_index for d in self.diagnostics)
        return ImageValidatingPolicy(
            index=len(self.policies), name=name, kind="NamespacedImageValidatingPolicy"
            if kind == "NamespacedImageValidatingPolicy" else "ImageValidatingPolicy",
            namespace=namespace, line=document.start[0], end_line=document.end[0], matches=matches,
            variables=tuple(variables), validations=validations, attestors=attestors, attestations=attestations,
            required=_flag(config, "required"), mutate_digest=_flag(config, "mutateDigest"),
            verify_digest=_flag(config, "verifyDigest"),
            validation_actions=tuple(seq_items(spec.get("validationActions"))) or ("Deny",), broken=broken,
            failure_policy="Ignore" if spec.get("failurePolicy") == "Ignore" else "Fail", extractors=tuple(extractors),
            selection=_selection(spec.obj("matchConstraints"), tuple(conditions)))

    def exception(self, doc: Document) -> None:
        """A CEL PolicyException: its schema, its matchConditions compiled in the policies' environment."""
        assert doc.root is not None
        self.policy_index = None
        obj = self.walker.obj(schema.EXCEPTION, doc.root, "PolicyException document")
        if obj is None:
            return
        self.shape(obj, "")
        api = str(obj.get("apiVersion"))
        if api.partition("/")[2] not in exceptions.API_VERSIONS:
            self.diag("error", "ivpol-api-version", f'no matches for kind "PolicyException" in version "{api}"',
                      obj.value_pos("apiVersion"), f"use apiVersion: {schema.API_GROUP}/v1")
        name, namespace = self.metadata(obj, "PolicyException")
        spec = obj.obj("spec")
        if spec is None:
            return
        key = f"{namespace}/{name}" if namespace else name
        self.enum(spec, "reportResult", "spec.reportResult", schema.REPORT_RESULTS)
        refs = []
        for i, ref in enumerate(seq_items(spec.get("policyRefs"))):
            if not isinstance(ref, Obj) or not ref.get("kind") or not ref.get("name"):
                continue
            kind = str(ref.get("kind"))
            close = close_key(kind, schema.KINDS)
            if kind not in schema.KINDS and close is not None:  # Kyverno compares kinds exactly
                self.diag("warning", "ivpol-exception-kind", f"spec.policyRefs[{i}].kind: '{kind}' is not '{close}' "
                          "(kinds are compared exactly): this exception applies to no ImageValidatingPolicy",
                          ref.value_pos("kind"), f"did you mean '{close}'?")
            refs.append((kind, str(ref.get("name"))))
            self.refs.append((kind, str(ref.get("name")), ref.value_pos("name")))
        env = expressions.policy_env()
        conditions = []
        broken = False
        for i, item in enumerate(seq_items(spec.get("matchConditions"))):
            if isinstance(item, Obj):
                condition = self.named(env, item, f"spec.matchConditions[{i}]", "bool")
                broken = broken or condition is None
                if condition is not None:
                    conditions.append(condition)
        if not seq_items(spec.get("matchConditions")):
            self.diag("warning", "ivpol-exception-everything", f"PolicyException {key} has no matchConditions: it excepts "
                      "every resource of the policies it names", spec.key_pos("policyRefs") if spec.has("policyRefs")
                      else spec.start, "add matchConditions that select the resources to except")
        expires = None
        if spec.get("expiresAt"):
            expires = exceptions.parse_expiry(str(spec.get("expiresAt")))
            if expires is None:
                self.diag("error", "ivpol-exception-expiry", f"spec.expiresAt: Invalid value: {_quoted(str(spec.get('expiresAt')))}: "
                          "must be an RFC 3339 date-time", spec.value_pos("expiresAt"), "e.g. 2026-05-01T00:00:00Z")
                broken = True
            elif exceptions.PolicyException(name, namespace, (), (), 0, expires).expired():
                self.diag("warning", "ivpol-exception-expired", f"PolicyException {key} expired at {spec.get('expiresAt')}: "
                          "Kyverno no longer applies it", spec.value_pos("expiresAt"))
        self.exceptions.append(PolicyException(name, namespace, tuple(refs), tuple(conditions), obj.start[0], expires,
                                               broken=broken))

    def unknown_refs(self) -> None:
        """A policyRefs entry of an ImageValidatingPolicy kind that names no policy of the file."""
        names = {(p.kind, p.name) for p in self.policies}
        for kind, name, pos in self.refs:
            if kind in schema.KINDS and (kind, name) not in names:
                close = close_key(name, tuple(sorted(p.name for p in self.policies if p.kind == kind)))
                self.diag("warning", "ivpol-exception-unknown-policy", f"no {kind} '{name}' in this file: the exception "
                          "excepts nothing here", pos, f"did you mean '{close}'?" if close else None)

    def image_matches(self, spec: Obj) -> Iterator[ImageMatch]:
        seen: set[str] = set()
        for i, item in enumerate(seq_items(spec.get("matchImageReferences"))):
            if not isinstance(item, Obj):
                continue
            path = f"spec.matchImageReferences[{i}]"
            line = item.start[0]
            if item.get("glob"):
                pattern = item.get("glob")
                self.glob_lints(item, pattern, path, seen)
                try:
                    glob = compile_glob(pattern)
                except GlobError as error:
                    node = _value_node(item, "glob")
                    pos = (expression_position(node, 1, error.column, item.start[1] + 1) if isinstance(node, ScalarNode)
                           else item.value_pos("glob"))
                    self.diag("error", "ivpol-glob", f"{path}.glob: Invalid value: {_quoted(pattern)}: {error.message}", pos,
                              "gobwas/glob: escape a literal [ ] { } * ? with \\")
                    continue
                yield ImageMatch(i, pattern, line, glob=glob)
            elif item.get("expression"):
                compiled = self.compile(expressions.match_env(), item, "expression", path, "bool")
                if compiled is not None:
                    yield ImageMatch(i, compiled.text, line, expression=compiled)
            else:  # Kyverno CompileMatchImageReference's words (the schema's oneOf is reported too)
                self.diag("error", "ivpol-glob", f"{path}: Invalid value: \"object\": either glob or expression must be set",
                          item.start)

    def glob_lints(self, item: Obj, pattern: str, path: str, seen: set[str]) -> None:
        if pattern in seen:
            self.diag("warning", "duplicate-pattern", f"{path}.glob '{pattern}' is written twice", item.value_pos("glob"),
                      "remove one of them")
        seen.add(pattern)
        host, slash, rest = pattern.partition("/")
        if slash and host in ("docker.io", "index.docker.io"):
            short = rest[len("library/"):] if rest.startswith("library/") else rest
            self.diag("warning", "ivpol-docker-hub-glob",
                      f"{path}.glob '{pattern}' is matched against the image as written: Docker Hub images written "
                      f"without '{host}/' (nginx, library/nginx) do not match it", item.value_pos("glob"),
                      f"add a glob for the short spelling too, e.g. '{short}'" + (f" and '{rest}'" if short != rest else ""))

    def match_constraints(self, spec: Obj) -> None:
        constraints = spec.obj("matchConstraints")
        rules = [r for r in seq_items(constraints.get("resourceRules") if constraints is not None else None)
                 if isinstance(r, Obj)]
        evaluation = spec.obj("evaluation")
        if not rules and not (evaluation is not None and evaluation.get("mode") == "JSON"):  # Kyverno's evaluator.Validate
            self.diag("error", "ivpol-match-constraints",
                      "spec.matchConstraints: Required value: a matchConstraints with at least one resource rule is required",
                      spec.key_pos("matchConstraints") if constraints is not None else spec.start,
                      "add matchConstraints.resourceRules, e.g. {apiGroups: [''], apiVersions: [v1], operations: [CREATE],"
                      " resources: [pods]}")

    def named(self, env: Any, item: Obj, path: str, expected: Expected) -> NamedExpression | None:
        compiled = self.compile(env, item, "expression", path, expected)
        if compiled is None:
            return None
        return NamedExpression(str(item.get("name")), compiled, item.start[0])

    def validations(self, env: Any, spec: Obj) -> Iterator[Validation]:
        for i, item in enumerate(seq_items(spec.get("validations"))):
            if not isinstance(item, Obj):
                continue
            path = f"spec.validations[{i}]"
            compiled = self.compile(env, item, "expression", path, "bool")
            message_expression = self.compile(env, item, "messageExpression", path, "string")
            if compiled is not None:
                yield Validation(i, compiled, str(item.get("message") or ""), message_expression, item.start[0])

    def attestations(self, spec: Obj) -> Iterator[Attestation]:
        seen: set[str] = set()
        for item in seq_items(spec.get("attestations")):
            if not isinstance(item, Obj):
                continue
            name = str(item.get("name"))
            if name in seen:
                self.diag("warning", "ivpol-duplicate-name", f"attestation '{name}' is declared twice; the last one is used",
                          item.value_pos("name"))
            seen.add(name)
            for kind in ("intoto", "referrer"):
                part = item.obj(kind)
                if part is not None:
                    yield Attestation(name, "intoto" if kind == "intoto" else "referrer", str(part.get("type")))
                    break
            else:
                self.diag("error", "ivpol-attestation-type", f"attestation '{name}' needs intoto or referrer with its type",
                          item.start, "add 'intoto: {type: https://…}'")

    def attestors(self, env: Any, spec: Obj) -> Iterator[Attestor]:
        seen: set[str] = set()
        for i, item in enumerate(seq_items(spec.get("attestors"))):
            if not isinstance(item, Obj):
                continue
            name = str(item.get("name"))
            if name in seen:
                self.diag("warning", "ivpol-duplicate-name", f"attestor '{name}' is declared twice; the last one is used",
                          item.value_pos("name"))
            seen.add(name)
            path = f"spec.attestors[{i}]"
            cosign = item.obj("cosign")
            if item.obj("notary") is not None:
                self.diag("warning", "ivpol-notary", f"attestor '{name}': notary signatures are not verified by pullguard",
                          item.key_pos("notary"))
                yield Attestor(name, (), ("notary",), item.start[0])
            elif cosign is not None:
                yield self.cosign(env, name, cosign, f"{path}.cosign", item.start[0])

    def cosign(self, env: Any, name: str, cosign: Obj, path: str, line: int) -> Attestor:
        unsupported: list[str] = []
        verifiers: list[Verifier] = []
        ctlog = cosign.obj("ctlog")
        ignore_tlog = bool(ctlog.get("insecureIgnoreTlog")) if ctlog is not None else False
        rekor_pubkey = (ctlog.get("rekorPubKey") or None) if ctlog is not None else None
        key, keyless = cosign.obj("key"), cosign.obj("keyless")
        for field in ("tuf", "trustedRoot"):
            if cosign.has(field):
                unsupported.append(f"cosign.{field}")
        repository, tag_prefix = self.source(cosign.obj("source"), f"{path}.source", unsupported)
        if ctlog is not None and ctlog.get("tsaCertChain"):
            unsupported.append("cosign.ctlog.tsaCertChain")
        if key is not None:
            for field in ("kms", "expression"):
                if key.get(field):
                    unsupported.append(f"cosign.key.{field}")
            if key.get("expression"):
                self.compile(env, key, "expression", f"{path}.key", "any")
            algorithm = str(key.get("hashAlgorithm") or "")
            if algorithm and algorithm not in HASH_ALGORITHMS:
                # opts.go: signatureAlgorithmMap[hashAlgorithm] is no hash, and loading the key fails
                self.diag("error", "ivpol-hash-algorithm", f'{path}.key.hashAlgorithm: Unsupported value: "{algorithm}": '
                          "supported values: sha224, sha256, sha384, sha512", key.value_pos("hashAlgorithm"),
                          "write one of sha224, sha256, sha384, sha512 (lower case)")
                unsupported.append(f"cosign.key.hashAlgorithm ({algorithm}: Kyverno cannot load the key with it)")
            if key.get("data"):
                try:
                    public_key = load_public_key_pem(str(key.get("data")))
                except KeyFormatError as error:
                    self.diag("error", error.code, f"{path}.key.data: {error}", key.value_pos("data"))
                else:
                    verifiers.append(PublicKeyVerifier(str(key.get("data")), public_key.fingerprint,
                                                       ignore_tlog=ignore_tlog, rekor_pubkey=rekor_pubkey,
                                                       hash_algorithm=algorithm if algorithm in HASH_ALGORITHMS else "sha256"))
        if keyless is not None:
            if keyless.get("additionalExtensions"):
                unsupported.append("cosign.keyless.additionalExtensions")
            for j, identity in enumerate(seq_items(keyless.get("identities"))):
                if not isinstance(identity, Obj):
                    continue
                if identity.get("subjectExpression"):
                    unsupported.append(f"cosign.keyless.identities[{j}].subjectExpression")
                for field in ("subjectRegExp", "issuerRegExp"):
                    reason = compile_error(str(identity.get(field))) if identity.get(field) else None
                    if reason is not None:  # cosign compiles it with Go's regexp at verification
                        self.diag("error", "invalid-regex", f"{path}.keyless.identities[{j}].{field} is not a valid "
                                  f"RE2 regular expression: {reason}", identity.value_pos(field),
                                  "RE2 has no lookaround or backreferences; escape literal '.' '(' '[' with '\\'")
                verifiers.append(KeylessVerifier(
                    issuer=identity.get("issuer") or None, subject=identity.get("subject") or None,
                    subject_regex=identity.get("subjectRegExp") or None, issuer_regex=identity.get("issuerRegExp") or None,
                    match="exact", roots=keyless.get("roots") or None,
                    rekor_url=(ctlog.get("url") or None) if ctlog is not None else None, rekor_pubkey=rekor_pubkey,
                    ignore_tlog=ignore_tlog, ctlog_pubkey=(ctlog.get("ctLogPubKey") or None) if ctlog is not None else None,
                    ignore_sct=bool(ctlog.get("insecureIgnoreSCT")) if ctlog is not None else False))
        certificate = cosign.obj("certificate")
        if certificate is not None:
            verifiers += self.certificate(env, certificate, f"{path}.certificate", ctlog, unsupported)
        annotations = tuple(sorted(string_map(cosign.get("annotations")).items()))
        if annotations:  # the signature's OCI annotations, as Kyverno's checkSignatureAnnotations
            verifiers = [dataclasses.replace(v, oci_annotations=annotations) for v in verifiers]
        if key is None and keyless is None and not cosign.has("certificate"):
            self.diag("error", "ivpol-cosign-verifier", f"{path}: one of key, keyless or certificate must be set",
                      cosign.start, "add 'key: {data: …}' or 'keyless: {identities: [{issuer: …, subject: …}]}'")
        return Attestor(name, tuple(verifiers), tuple(unsupported), line, repository, tag_prefix)

    def certificate(self, env: Any, certificate: Obj, path: str, ctlog: Obj | None, unsupported: list[str]) -> list[Verifier]:
        """`cosign.certificate` as opts.go checkOptions reads it: `cert.value` alone is the key the
        signature must verify with (SHA-256), `certChain.value` the roots its certificate must chain
        to (with `cert`, that certificate). `expression` values are not verified by pullguard."""
        texts: dict[str, str] = {}
        for key in ("cert", "certChain"):
            part = certificate.obj(key)
            if part is None:
                continue
            if part.get("expression"):
                self.compile(env, part, "expression", f"{path}.{key}", "any")
                unsupported.append(f"cosign.certificate.{key}.expression")
                continue
            text = str(part.get("value") or "")
            problem = certificate_problem(text) if text else None
            if text and ("-----BEGIN" not in text or problem):
                self.diag("error", "ivpol-certificate-invalid", f"{path}.{key}.value: "
                          f"{problem or 'not a PEM certificate'}", part.value_pos("value"),
                          "paste the PEM block from '-----BEGIN CERTIFICATE-----' to '-----END CERTIFICATE-----'")
                unsupported.append(f"cosign.certificate.{key} (not a PEM certificate)")
                continue
            texts[key] = text
        if any(u.startswith("cosign.certificate") for u in unsupported):
            return []
        cert, chain = texts.get("cert", ""), texts.get("certChain", "")
        if not cert and not chain:
            self.diag("error", "ivpol-certificate-required", f"{path}: cert or certChain value required", certificate.start,
                      "add 'cert: {value: |-  <the signer's PEM certificate>}'")
            unsupported.append("cosign.certificate (neither cert nor certChain)")
            return []
        return [certificate_verifier(
            cert, chain, rekor_url=(ctlog.get("url") or None) if ctlog is not None else None,
            rekor_pubkey=(ctlog.get("rekorPubKey") or None) if ctlog is not None else None,
            ignore_tlog=bool(ctlog.get("insecureIgnoreTlog")) if ctlog is not None else False,
            ctlog_pubkey=(ctlog.get("ctLogPubKey") or None) if ctlog is not None else None,
            ignore_sct=bool(ctlog.get("insecureIgnoreSCT")) if ctlog is not None else False,
        )]

    def source(self, source: Obj | None, path: str, unsupported: list[str]) -> tuple[str, str]:
        """`cosign.source` (pkg/image/verifiers/ivpol/cosign/opts.go checkOptions): (`repository`,
        where cosign looks for the signatures, parsed as name.NewRepository — one that does not
        parse fails every verification with Kyverno's words; `tagPrefix`, before the `.sig`/`.att`
        tags, as cosign's WithPrefix). `PullSecrets` are not verified by pullguard."""
        if source is None:
            return "", ""
        if source.get("PullSecrets"):
            unsupported.append("cosign.source.PullSecrets")
        prefix = str(source.get("tagPrefix") or "")
        bad = next((c for c in prefix if not (c.isascii() and (c.isalnum() or c in "_.-"))), None)
        if bad is not None or len(prefix) > _TAG_PREFIX_MAX:
            why = (f"{bad!r} is not allowed in a tag" if bad is not None
                   else f"longer than {_TAG_PREFIX_MAX} characters, the tag would pass 128")
            self.diag("error", "ivpol-tag-prefix-invalid", f"{path}.tagPrefix: {why}", source.value_pos("tagPrefix"),
                      "use letters, digits, '_', '.' and '-' only")
            unsupported.append(f"cosign.source.tagPrefix ({why})")
            prefix = ""
        text = source.get("repository")
        if not text:
            return "", prefix
        try:
            return parse_repository(str(text)), prefix
        except InvalidReference as exc:
            problem = f"failed to parse signature repository {text}: {exc.reason}"
            self.diag("error", "ivpol-repository-invalid", f"{path}.repository: {problem}",
                      source.char_pos("repository", exc.offset),
                      "write a repository name without tag or digest, e.g. 'ghcr.io/acme/signatures'")
            unsupported.append(f"cosign.source.repository ({problem})")
            return "", prefix

    # -- what the expressions use ------------------------------------------------------------

    def usage_lints(self, spec: Obj, required: bool) -> None:
        texts = " ".join(str(obj.get(key)) for obj, key, _ in _expressions(spec) if obj.get(key))
        used = {m.group(2) or m.group(3) for m in _REFERENCE.finditer(texts) if m.group(1) == "attestors"}
        for item in seq_items(spec.get("attestors")):
            if isinstance(item, Obj) and item.get("name") and item.get("name") not in used:
                self.diag("warning", "ivpol-unused-attestor", f"attestor '{item.get('name')}' is not used by any expression",
                          item.value_pos("name"), f"pass attestors.{item.get('name')} to verifyImageSignatures, or remove it")
        checks = re.search(r"\bverify(ImageSignatures|AttestationSignatures)\s*\(", texts) is not None
        if required and spec.has("validations") and not checks:
            self.diag("warning", "ivpol-required-without-check",
                      "no expression calls verifyImageSignatures or verifyAttestationSignatures: with "
                      "validationConfigurations.required (the default) Kyverno then refuses every image it takes "
                      "('is not verified: no policy performed a signature or attestation check on it')",
                      spec.key_pos("validations"), "call verifyImageSignatures in a validation, or set "
                      "validationConfigurations.required: false")

    # -- names used by expressions -----------------------------------------------------------

    def references(self, spec: Obj, attestors: set[str], attestations: set[str]) -> None:
        for obj, key, path in _expressions(spec):
            text = obj.get(key)
            if not isinstance(text, str):
                continue
            for found in _REFERENCE.finditer(_blank_strings(text)):
                group, name = found.group(1), found.group(2) or found.group(3)
                declared = attestors if group == "attestors" else attestations
                if name in declared:
                    continue
                start = found.start(2) if found.group(2) else found.start(3)
                line = text.count("\n", 0, start) + 1
                column = start - (text.rfind("\n", 0, start) + 1) + 1
                node = _value_node(obj, key)
                pos = (expression_position(node, line, column, obj.start[1] + 1) if isinstance(node, ScalarNode)
                       else obj.value_pos(key))
                close = close_key(name, tuple(sorted(declared)))
                self.diag("error", "ivpol-unknown-reference",
                          f"{_join(path, key)}: {group[:-1]} '{name}' is not declared in spec.{group}", pos,
                          f"did you mean '{close}'?" if close else f"declare it in spec.{group}")


# A tag is at most 128 characters (go-containerregistry checkTag); `<prefix>sha256-<64 hex>.sig` leaves this.
_TAG_PREFIX_MAX = 128 - len("sha256-") - 64 - len(".sig")

# `attestors.name`, `attestors["name"]`, `attestations.name`: the names an expression looks up.
_REFERENCE = re.compile(r"\b(attestors|attestations)(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*[\"']([^\"']*)[\"']\s*\])")
_STRING = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")


def _blank_strings(text: str) -> str:
    """The expression with string literals blanked (same length), except a bare `["name"]` index."""
    def blank(found: re.Match[str]) -> str:
        before = text[:found.start()].rstrip()
        if before.endswith("["):
            return found.group(0)
        return found.group(0)[0] + " " * (len(found.group(0)) - 2) + found.group(0)[-1]

    return _STRING.sub(blank, text)


def _expressions(spec: Obj) -> Iterator[tuple[Obj, str, str]]:
    for list_key, keys in (("variables", ("expression",)), ("validations", ("expression", "messageExpression")),
                           ("matchConditions", ("expression",)), ("auditAnnotations", ("valueExpression",))):
        for i, item in enumerate(seq_items(spec.get(list_key))):
            if isinstance(item, Obj):
                for key in keys:
                    yield item, key, f"spec.{list_key}[{i}]"


def _selection(constraints: Obj | None, conditions: tuple[NamedExpression, ...]) -> Selection:
    if constraints is None:
        return Selection(conditions=conditions)

    def rules(key: str) -> tuple[ResourceRule, ...]:
        return tuple(ResourceRule(*(tuple(str(v) for v in seq_items(rule.get(field)))
                                    for field in ("apiGroups", "apiVersions", "operations", "resources", "resourceNames")))
                     for rule in seq_items(constraints.get(key)) if isinstance(rule, Obj))

    def selector(key: str) -> LabelSelector | None:
        written = constraints.obj(key)
        if written is None:
            return None
        return LabelSelector(tuple(sorted(string_map(written.get("matchLabels")).items())),
                             tuple((str(e.get("key")), str(e.get("operator")), tuple(str(v) for v in seq_items(e.get("values"))))
                                   for e in seq_items(written.get("matchExpressions")) if isinstance(e, Obj)))

    return Selection(rules("resourceRules"), rules("excludeResourceRules"), selector("namespaceSelector"),
                     selector("objectSelector"), conditions)


def _flag(config: Obj | None, key: str) -> bool:
    """validationConfigurations fields default to true (the CRD's defaults)."""
    return True if config is None or not config.has(key) else bool(config.get(key))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _quoted(text: str) -> str:
    """Go's %q, as field.Invalid shows the value (short values whole, long ones cut)."""
    import json

    shown = text if len(text) <= 80 else text[:77] + "..."
    return json.dumps(shown, ensure_ascii=False)


def load_documents(docs: list[Document]) -> tuple[list[ImageValidatingPolicy], list[Diagnostic]]:
    """The file's policies, each with the file's CEL PolicyExceptions that name it."""
    loader = _Loader()
    for doc in docs:
        if detect(doc):
            loader.document(doc)
        elif is_cel_exception(doc):
            loader.exception(doc)
    loader.unknown_refs()
    return exceptions.attach(loader.policies, loader.exceptions), loader.diagnostics


def load_exception_documents(docs: list[Document]) -> tuple[list[PolicyException], list[Diagnostic]]:
    """The CEL PolicyExceptions of a file of their own (a Kyverno test's `exceptions:`)."""
    loader = _Loader()
    for doc in docs:
        if is_cel_exception(doc):
            loader.exception(doc)
    return loader.exceptions, loader.diagnostics
