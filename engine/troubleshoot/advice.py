"""From what the node said and what the policy decides, the cause and what to change.

One sentence of cause; a suggestion that names the rule (its id and line), the identity the
certificate carried with the YAML of a rule that would accept it, the tag to check, or the
trusted root to give. Where the node and the policy file disagree, that is the cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import reference
from ..policy.dialect import PolicyModel
from ..vocabulary import Decision, KeylessVerifier, PublicKeyVerifier
from .recognise import Reported


@dataclass(frozen=True)
class PolicyContext:
    """What advice needs of the policy file: its path, dialect and where each rule is written."""

    path: str
    dialect: str | None
    lines: dict[int, int]

    @classmethod
    def of(cls, path: str, dialect: str | None, policy: PolicyModel) -> PolicyContext:
        return cls(path, dialect, {item.index: item.line for item in policy.outline()})

    def where(self, decision: Decision) -> str:
        line = self.lines.get(decision.rule_index) if decision.rule_index is not None else None
        at = f"{self.path}:{line}" if line is not None else self.path
        if self.dialect == "kyverno":  # policy/rule#entry, matched by one of its imageReferences
            return f"{decision.rule_id} (`imageReferences: {decision.pattern}`, {at})"
        return f"rule {decision.rule_id} (`image: {decision.pattern}`, {at})"


@dataclass(frozen=True)
class Advice:
    agrees: bool | None
    cause: str
    suggestion: str | None


_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")
_YAML_NEEDS_QUOTES = re.compile(r"^[\s'\"&*!|>%@`#?:,\[\]{}-]|: | #|\s$")


def _re2_literal(text: str) -> str:
    """`text` as an RE2 expression that matches exactly it."""
    return _RE2_SPECIAL.sub(r"\\\1", text)


def _yaml(value: str) -> str:
    if _YAML_NEEDS_QUOTES.search(value) or not value:
        return "'" + value.replace("'", "''") + "'"
    return value


def _subject_of(image: str | None) -> str | None:
    if image is None:
        return None
    try:
        return reference.talos_match_subject(image)
    except reference.InvalidReference:
        return None


def _repository_and_tag(image: str) -> tuple[str, str | None]:
    try:
        ref = reference.parse_reference(image)
    except reference.InvalidReference:
        return image, None
    return ref.context, ref.tag


def _accepts(verifier: KeylessVerifier, subject: str, issuer: str) -> bool:
    from ..signatures.errors import SignatureError
    from ..signatures.evidence import Identity
    from ..signatures.identity import check_identity

    try:
        check_identity(Identity(issuer=issuer, subject=subject), verifier)
    except SignatureError:
        return False
    return True


def _agrees(report: Reported, decision: Decision | None) -> bool | None:
    """Does the policy decide what the node reported? None where the policy has no say."""
    kind = report.reason.kind
    if decision is None or decision.action is None or report.outcome is None:
        return None
    if not report.reason.verification or kind == "invalid-reference":
        return None
    if report.outcome == "denied":
        return decision.action == "deny" and report.rule_id in (None, decision.rule_id)
    if report.source == "kyverno" and report.rule is not None and decision.rules is not None:
        rule = _without_autogen(report.rule)
        return any(r.get("rule") == rule and report.policy in (None, r.get("policy")) and r.get("action") == "verify"
                   for r in decision.rules or [])
    if decision.action != "verify":
        return False
    verifier = decision.verifier
    if kind == "trusted-root":
        return not isinstance(verifier, PublicKeyVerifier)
    if kind == "rule-unusable":
        return isinstance(verifier, PublicKeyVerifier)
    if kind == "identity":
        if isinstance(verifier, PublicKeyVerifier):
            return False
        subjects, issuer = report.reason.subjects, report.reason.issuer
        if isinstance(verifier, KeylessVerifier) and subjects and issuer:
            return not any(_accepts(verifier, s, issuer) for s in subjects)
    return True


def _without_autogen(rule: str) -> str:
    for prefix in ("autogen-cronjob-", "autogen-"):
        if rule.startswith(prefix):
            return rule[len(prefix):]
    return rule


def _decides(decision: Decision, context: PolicyContext) -> str:
    if decision.action == "allow":
        return "allows it (no rule matches)"
    if decision.action == "skip":
        return f"skips its verification by {context.where(decision)}"
    if decision.action == "deny":
        return f"denies it by {context.where(decision)}"
    return f"requires its verification by {context.where(decision)}"


def _disagreement(report: Reported, decision: Decision, context: PolicyContext) -> Advice:
    said = report.outcome or "a failure"
    cause = f"the node reported {said} ({report.message.splitlines()[0]}), but {context.path} {_decides(decision, context)}"
    if report.source == "kyverno":
        where = "the cluster's policies (`kubectl get clusterpolicy,policy -A -o yaml`)"
    else:
        where = "the node's rules (`talosctl get imageverificationrules -o yaml`)"
    return Advice(False, cause, f"{where} are not {context.path}: compare them, and test the node's rules with pullguard")


def advise(report: Reported, decision: Decision | None, context: PolicyContext | None) -> Advice:
    agrees = _agrees(report, decision) if context is not None else None
    if agrees is False and decision is not None and context is not None:
        return _disagreement(report, decision, context)
    if decision is not None and decision.action is None:  # the policy cannot read the reference
        decision = None
    cause, suggestion = _CAUSES.get(report.reason.kind, _other)(report, decision, context)
    return Advice(agrees, cause, suggestion)


# -- one function per kind: (cause, suggestion) ----------------------------------------------

_Said = tuple[str, str | None]


def _name(report: Reported) -> str:
    return report.image or "the image"


def _verify_hint(report: Reported, context: PolicyContext | None) -> str:
    policy = context.path if context is not None else "POLICY"
    return f"`pullguard verify {policy} {report.image or 'IMAGE'}`"


def _denied(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    rule_id = report.rule_id or (decision.rule_id if decision is not None else None) or "?"
    if decision is not None and context is not None:
        where = context.where(decision)
        cause = f"{where} denies {decision.match_subject}: no image from there may run"
        return cause, f"pull {_name(report)} from a registry the policy does not deny, or remove or narrow the deny {where}"
    cause = f"Talos denied {_name(report)}: rule {rule_id} matches it and says `deny: true`"
    return cause, (f"see the rule with `talosctl get imageverificationrules {rule_id} -o yaml`: pull the image from "
                   "another registry, or remove or narrow that rule")


def _identity(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    reason = report.reason
    subject = reason.subjects[0] if reason.subjects else None
    issuer = reason.issuer
    if subject is None:
        cause = f"{_name(report)} is signed, but by a certificate identity the rule does not accept"
        return cause, f"{_verify_hint(report, context)} shows the identity the certificate carries"
    signer = f"{subject}" + (f" (issuer {issuer})" if issuer else "")
    verifier = decision.verifier if decision is not None else None
    if isinstance(verifier, KeylessVerifier) and decision is not None and context is not None:
        where = context.where(decision)
        if issuer is not None and verifier.issuer is not None and issuer != verifier.issuer and verifier.match == "exact":
            why = f"its issuer is not {verifier.issuer}"
        elif verifier.subject_regex is not None:
            why = f"subjectRegex {verifier.subject_regex} does not match it"
        elif verifier.subject is not None:
            why = f"subject {verifier.subject} is not it"
        else:
            why = "its identity does not match"
        cause = f"{_name(report)} is signed by {signer}, and {where} does not accept that signer: {why}"
        if context.dialect == "kyverno":
            return cause, _kyverno_identity_fix(report, subject, issuer or verifier.issuer or "ISSUER")
        same_issuer = issuer is None or issuer == verifier.issuer
        regex = f"^{_re2_literal(subject)}$"
        if same_issuer and verifier.subject_regex:
            regex = f"{regex}|{verifier.subject_regex}"
        elif same_issuer and verifier.subject:
            regex = f"^(?:{_re2_literal(verifier.subject)}|{_re2_literal(subject)})$"
        rule = _talos_rule(decision.match_subject or "IMAGE", issuer or verifier.issuer or "ISSUER", regex)
        return cause, (f"sign the image from a build {where} accepts, or, to trust {subject} for "
                       f"{decision.match_subject}, add this rule before rule {decision.rule_id}:\n{rule}")
    cause = f"{_name(report)} is signed by {signer}, an identity the matching rule does not accept"
    if reason.expected is not None:  # sigstore-go says what the node's rule asked for
        cause += f" (it asks for {reason.expected})"
    pattern = _subject_of(report.image) or "IMAGE"
    if report.source == "kyverno":
        return cause, _kyverno_identity_fix(report, subject, issuer or "ISSUER")
    rule = _talos_rule(pattern, issuer or "ISSUER", f"^{_re2_literal(subject)}$")
    return cause, f"sign the image from the build the rule expects, or accept this signer with a rule such as:\n{rule}"


def _talos_rule(pattern: str, issuer: str, regex: str) -> str:
    return (f"  - image: {_yaml(pattern)}\n    keyless:\n      issuer: {_yaml(issuer)}\n"
            f"      subjectRegex: {_yaml(regex)}")


def _kyverno_identity_fix(report: Reported, subject: str, issuer: str) -> str:
    rule = f"{report.policy}/{report.rule}" if report.rule else "the rule"
    entry = f"    - keyless:\n        issuer: {_yaml(issuer)}\n        subject: {_yaml(subject)}"
    return (f"sign the image from the build {rule} expects, or, to trust this signer too, give the attestor set "
            f"`count: 1` and add the entry:\n{entry}")


def _unsigned(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"no signature was found for {_name(report)}: no Sigstore bundle (referrer or `sha256-<hex>` tag) and no legacy `.sig` tag"
    if decision is not None and context is not None and decision.action == "verify":
        where = context.where(decision)
        skip = f"  - image: {_yaml(decision.match_subject or 'IMAGE')}\n    skip: true"
        if context.dialect == "kyverno":
            return cause, (f"sign {_name(report)} as {where} requires (`cosign sign`), or, if it need not be signed, "
                           "list it in that entry's `skipImageReferences`")
        return cause, (f"sign {_name(report)} as {where} requires (`cosign sign`), or, if it need not be signed, "
                       f"add before rule {decision.rule_id}:\n{skip}")
    return cause, f"sign {_name(report)} (`cosign sign`) with the identity or key the matching rule requires"


def _bad_signature(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = (f"{_name(report)} has a signature that does not verify with the rule's key: it was made with another key, "
             "or the signature or its payload was altered")
    verifier = decision.verifier if decision is not None else None
    if isinstance(verifier, PublicKeyVerifier) and decision is not None and context is not None:
        return cause, (f"re-sign the image with the key whose public half is in {context.where(decision)} "
                       f"({verifier.fingerprint or 'key'}); if the signer rotated its key, put the new PUBLIC KEY in that rule")
    return cause, f"re-sign the image with the key the rule holds; {_verify_hint(report, context)} names the key it checked"


def _untrusted(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = (f"the certificate that signed {_name(report)} does not chain to the node's trusted root, or has no valid "
             "certificate timestamp (another Sigstore instance signed it)")
    return cause, (f"compare the node's root (`talosctl get tuftrustedroots -o yaml`) with the Sigstore that signed the image; "
                   f"{_verify_hint(report, context)} --trusted-root <that output> checks with the node's own root")


def _tlog(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"the signature of {_name(report)} has no valid transparency-log (Rekor) entry"
    return cause, "sign with the upload to Rekor (cosign's default), or use a publicKey rule, which Talos checks without a log entry"


def _digest(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"the signature found for {_name(report)} names another image digest"
    return cause, f"sign this image's own digest; {_verify_hint(report, context)} shows the digest signed"


def _digest_required(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"the entry requires a digest (`verifyDigest: true`), and the pod names {_name(report)} by tag"
    return cause, "reference the image by digest (`image@sha256:…`), or set `mutateDigest: true` so that Kyverno writes it"


def _registry(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"the node could not read the signatures of {_name(report)} from the registry: {report.reason.detail}"
    hint = _verify_hint(report, context)
    return cause, f"check that the node reaches the registry (mirrors, credentials); {hint} shows the failing request"


def _not_found(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    if report.image is None:
        return "the image was not found in the registry (Talos resolves the tag before verifying)", "check the image's tag"
    repository, tag = _repository_and_tag(report.image)
    what = f"tag {tag}" if tag else "digest"
    cause = f"the registry has no {report.image}: the {what} or the repository {repository} does not exist"
    return cause, f"check the {what} of {repository} (`crane ls {repository}` lists its tags) and fix the pod's image"


def _resolve(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"the node could not resolve {_name(report)} to a digest: {report.reason.detail}"
    hint = _verify_hint(report, context)
    return cause, f"check that the node reaches the registry and its credentials; {hint} shows the request that fails"


def _trusted_root(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    rule = f" ({context.where(decision)} is keyless)" if decision is not None and context is not None and decision.rule_id else ""
    cause = (f"the node has no Sigstore trusted root{rule}: it could not get one from TUF in time, as on an air-gapped "
             "node, so keyless verification fails before any signature is read")
    return cause, ("check the node's root with `talosctl get tuftrustedroots -o yaml`; give the node access to TUF, or use "
                   "publicKey rules, which need no root; `pullguard verify --trusted-root FILE` (that output, or a "
                   "trusted_root.json) checks the image offline")


def _rule_unusable(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    policy = context.path if context is not None else "POLICY"
    return (f"the matching rule cannot be used: {report.reason.detail}",
            f"`pullguard check {policy}`: a publicKey rule needs a PEM `PUBLIC KEY` block")


def _invalid_reference(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    return f"the image reference is not valid: {report.reason.detail}", "fix the image in the pod's spec"


def _backoff(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    if report.image is None:  # a bare `Error: ErrImagePull`
        cause = f"kubelet says `{report.message}` without the reason: the `Failed to pull image` event before it has it"
    else:
        cause = f"kubelet waits before pulling {report.image} again: an earlier pull failed, and that event says why"
    suggestion = "paste the `Failed to pull image` event (`kubectl describe pod`) or the node's `talosctl logs cri`"
    if decision is not None and context is not None:
        suggestion += f"; {context.path} says: {decision.message}"
    return cause, suggestion


def _validation(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"ImageValidatingPolicy {report.policy} refused the pod: {report.reason.detail}"
    return cause, f"run {_verify_hint(report, context)} on the pod's images to see which attestor or validation fails"


def _pull(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"the pull of {_name(report)} failed, not its signature verification: {report.reason.detail}"
    return cause, "check the image name, the registry and the pull credentials"


def _other(report: Reported, decision: Decision | None, context: PolicyContext | None) -> _Said:
    cause = f"verification of {_name(report)} failed: {report.reason.detail}"
    return cause, f"{_verify_hint(report, context)} shows each signature tried and why it was not accepted"


_CAUSES = {
    "denied": _denied, "identity": _identity, "unsigned": _unsigned, "bad-signature": _bad_signature,
    "untrusted": _untrusted, "tlog": _tlog, "digest": _digest, "digest-required": _digest_required,
    "registry": _registry, "not-found": _not_found, "resolve": _resolve, "trusted-root": _trusted_root,
    "rule-unusable": _rule_unusable, "invalid-reference": _invalid_reference, "backoff": _backoff,
    "validation": _validation, "pull": _pull, "other": _other,
}
