"""The shape of an ImageValidatingPolicy: Kyverno's CRD schema, as typed fields for the YAML walker.

From kyverno/kyverno `config/crds/policies.kyverno.io/policies.kyverno.io_imagevalidatingpolicies.yaml`
(v1 and v1beta1 have the same schema; NamespacedImageValidatingPolicy too). Required fields,
enums and `oneOf` choices are listed beside the schema and checked by the loader.
"""

from __future__ import annotations

from ...yamlschema import ANY, BOOL, INT, NAME, STR, STRLIST, STRMAP, Schema, listof

API_GROUP = "policies.kyverno.io"
API_VERSIONS = ("v1", "v1beta1", "v1alpha1")  # v1alpha1: served, deprecated
KINDS = ("ImageValidatingPolicy", "NamespacedImageValidatingPolicy")


def _value_or_expression(name: str) -> Schema:
    return Schema(name, {"value": STR, "expression": STR})


IDENTITY = Schema("keyless identity", {
    "issuer": STR, "issuerRegExp": STR, "subject": STR, "subjectRegExp": STR, "subjectExpression": STR,
})
KEYLESS = Schema("keyless", {"identities": listof(IDENTITY), "roots": STR, "additionalExtensions": STRMAP})
KEY = Schema("key", {"data": STR, "kms": STR, "hashAlgorithm": STR, "expression": STR})
CERT, CERT_CHAIN = _value_or_expression("cert"), _value_or_expression("certChain")
CERTIFICATE = Schema("certificate", {"cert": CERT, "certChain": CERT_CHAIN})
CTLOG = Schema("ctlog", {
    "url": STR, "rekorPubKey": STR, "ctLogPubKey": STR, "tsaCertChain": STR,
    "insecureIgnoreTlog": BOOL, "insecureIgnoreSCT": BOOL,
})
TUF = Schema("tuf", {"mirror": STR, "root": Schema("tuf root", {"data": STR, "path": STR})})
SOURCE = Schema("source", {
    "repository": STR, "tagPrefix": STR, "PullSecrets": listof(Schema("pull secret", {"name": STR})),
})
TRUSTED_ROOT = _value_or_expression("trustedRoot")
COSIGN = Schema("cosign", {
    "key": KEY, "keyless": KEYLESS, "certificate": CERTIFICATE, "ctlog": CTLOG, "tuf": TUF, "source": SOURCE,
    "annotations": STRMAP, "trustedRoot": TRUSTED_ROOT,
})
NOTARY_CERTS, NOTARY_TSA_CERTS = _value_or_expression("certs"), _value_or_expression("tsaCerts")
NOTARY = Schema("notary", {"certs": NOTARY_CERTS, "tsaCerts": NOTARY_TSA_CERTS})
ATTESTOR = Schema("attestor", {"name": NAME, "cosign": COSIGN, "notary": NOTARY})
INTOTO, REFERRER = Schema("intoto", {"type": STR}), Schema("referrer", {"type": STR})
ATTESTATION = Schema("attestation", {"name": NAME, "intoto": INTOTO, "referrer": REFERRER})
MATCH_IMAGE_REFERENCE = Schema("matchImageReferences entry", {"glob": STR, "expression": STR})
MATCH_CONDITION = Schema("matchCondition", {"name": NAME, "expression": STR})
VARIABLE = Schema("variable", {"name": NAME, "expression": STR})
IMAGE_EXTRACTOR = Schema("images entry", {"name": NAME, "expression": STR})
VALIDATION = Schema("validation", {"expression": STR, "message": STR, "messageExpression": STR, "reason": STR})
AUDIT_ANNOTATION = Schema("auditAnnotation", {"key": STR, "valueExpression": STR})
VALIDATION_CONFIGURATIONS = Schema("validationConfigurations", {"required": BOOL, "mutateDigest": BOOL, "verifyDigest": BOOL})
CREDENTIALS = Schema("credentials", {"allowInsecureRegistry": BOOL, "providers": STRLIST, "secrets": STRLIST})
_ENABLED = Schema("evaluation switch", {"enabled": BOOL})
EVALUATION = Schema("evaluation", {"admission": _ENABLED, "background": _ENABLED, "mode": STR})
AUTOGEN = Schema("autogen", {"podControllers": Schema("podControllers", {"controllers": STRLIST})})
WEBHOOK_CONFIGURATION = Schema("webhookConfiguration", {"timeoutSeconds": INT})
LABEL_SELECTOR = Schema("label selector", {
    "matchLabels": STRMAP,
    "matchExpressions": listof(Schema("label selector requirement", {"key": STR, "operator": STR, "values": STRLIST})),
})
RESOURCE_RULE = Schema("resource rule", {
    "apiGroups": STRLIST, "apiVersions": STRLIST, "operations": STRLIST, "resourceNames": STRLIST,
    "resources": STRLIST, "scope": STR,
})
MATCH_CONSTRAINTS = Schema("matchConstraints", {
    "resourceRules": listof(RESOURCE_RULE), "excludeResourceRules": listof(RESOURCE_RULE), "matchPolicy": STR,
    "namespaceSelector": LABEL_SELECTOR, "objectSelector": LABEL_SELECTOR,
})
SPEC = Schema("spec", {
    "attestations": listof(ATTESTATION), "attestors": listof(ATTESTOR), "auditAnnotations": listof(AUDIT_ANNOTATION),
    "autogen": AUTOGEN, "credentials": CREDENTIALS, "evaluation": EVALUATION, "failurePolicy": STR,
    "images": listof(IMAGE_EXTRACTOR), "matchConditions": listof(MATCH_CONDITION), "matchConstraints": MATCH_CONSTRAINTS,
    "matchImageReferences": listof(MATCH_IMAGE_REFERENCE), "validationActions": STRLIST,
    "validationConfigurations": VALIDATION_CONFIGURATIONS, "validations": listof(VALIDATION),
    "variables": listof(VARIABLE), "webhookConfiguration": WEBHOOK_CONFIGURATION,
})
POLICY = Schema("ImageValidatingPolicy", {"apiVersion": STR, "kind": STR, "metadata": ANY, "spec": SPEC, "status": ANY})

# The CEL PolicyException (`config/crds/policies.kyverno.io/policies.kyverno.io_policyexceptions.yaml`,
# v1alpha1, v1beta1 and v1 alike).
EXCEPTION_KIND = "PolicyException"
POLICY_REF = Schema("policyRefs entry", {"name": STR, "kind": STR})
EXCEPTION_SPEC = Schema("PolicyException spec", {
    "allowedValues": STRLIST, "evaluationMode": STR, "expiresAt": STR, "images": STRLIST,
    "matchConditions": listof(MATCH_CONDITION), "policyRefs": listof(POLICY_REF), "properties": STRMAP,
    "reportResult": STR,
})
EXCEPTION = Schema("PolicyException", {"apiVersion": STR, "kind": STR, "metadata": ANY, "spec": EXCEPTION_SPEC,
                                       "status": ANY})
REPORT_RESULTS = ("skip", "pass")

# The CRD's `required` lists (checked where the object is written).
REQUIRED: dict[Schema, tuple[str, ...]] = {
    POLICY: ("spec",),
    EXCEPTION: ("spec",),
    EXCEPTION_SPEC: ("policyRefs",),
    POLICY_REF: ("kind", "name"),
    SPEC: ("attestors", "validations"),
    ATTESTOR: ("name",),
    ATTESTATION: ("name",),
    INTOTO: ("type",),
    REFERRER: ("type",),
    AUDIT_ANNOTATION: ("key", "valueExpression"),
    IMAGE_EXTRACTOR: ("expression", "name"),
    MATCH_CONDITION: ("expression", "name"),
    VALIDATION: ("expression",),
    VARIABLE: ("expression", "name"),
    KEYLESS: ("identities",),
}

# The CRD's `oneOf` of `required`: exactly one of these keys.
ONE_OF: dict[Schema, tuple[str, ...]] = {
    ATTESTOR: ("cosign", "notary"),
    MATCH_IMAGE_REFERENCE: ("glob", "expression"),
    **{choice: ("value", "expression") for choice in (CERT, CERT_CHAIN, TRUSTED_ROOT, NOTARY_CERTS, NOTARY_TSA_CERTS)},
}

# The CRD's enums.
FAILURE_POLICIES = ("Ignore", "Fail")
VALIDATION_ACTIONS = ("Deny", "Audit", "Warn")
CREDENTIAL_PROVIDERS = ("default", "amazon", "azure", "google", "github")
