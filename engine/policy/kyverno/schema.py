"""The shape of a Kyverno ClusterPolicy/Policy, as `pullguard.engine.yamlschema` schemas.

Field names and types from kyverno/kyverno `api/kyverno/v1` (spec_types.go, rule_types.go,
match_resources_types.go, resource_description_types.go, user_info_types.go,
image_verification_types.go). Parts pullguard does not interpret (mutate, validate, generate,
context, preconditions, conditions, selectors) are read as opaque YAML.
"""

from __future__ import annotations

from ...yamlschema import ANY, BOOL, INT, NAME, STR, STRLIST, STRMAP, Schema, listof

# --- the schemas ---------------------------------------------------------------------------

REKOR = Schema("rekor", {"url": STR, "pubkey": STR, "ignoreTlog": BOOL})
CTLOG = Schema("ctlog", {"ignoreSCT": BOOL, "pubkey": STR, "tsaCertChain": STR})
SECRET = Schema("keys.secret", {"name": NAME, "namespace": NAME})
KEYS = Schema("keys", {
    "publicKeys": STR, "signatureAlgorithm": STR, "kms": STR, "secret": SECRET,
    "rekor": REKOR, "ctlog": CTLOG,
})
CERTIFICATES = Schema("certificates", {"cert": STR, "certChain": STR, "rekor": REKOR, "ctlog": CTLOG})
KEYLESS = Schema("keyless", {
    "rekor": REKOR, "ctlog": CTLOG, "issuer": STR, "issuerRegExp": STR, "subject": STR,
    "subjectRegExp": STR, "roots": STR, "additionalExtensions": STRMAP,
})
ATTESTOR = Schema("attestor entry", {
    "keys": KEYS, "certificates": CERTIFICATES, "keyless": KEYLESS, "attestor": None,
    "annotations": STRMAP, "repository": STR, "signatureAlgorithm": STR,
})
ATTESTOR_SET = Schema("attestors item", {"count": INT, "entries": listof(ATTESTOR)})
ATTESTOR.fields["attestor"] = ATTESTOR_SET  # a nested attestor set (apiextensions JSON)
CONDITION = Schema("condition", {"key": ANY, "operator": STR, "value": ANY, "message": STR})
ANY_ALL_CONDITIONS = Schema("conditions item", {"any": listof(CONDITION), "all": listof(CONDITION)})
ATTESTATION = Schema("attestation", {
    "name": NAME, "predicateType": STR, "type": STR, "attestors": listof(ATTESTOR_SET),
    "conditions": listof(ANY_ALL_CONDITIONS),
})
CREDENTIALS = Schema("imageRegistryCredentials", {
    "allowInsecureRegistry": BOOL, "providers": STRLIST, "secrets": STRLIST,
})
IV_VALIDATE = Schema("verifyImages validate", {"message": STR, "deny": ANY})
VERIFY_IMAGES = Schema("verifyImages entry", {
    "failureAction": STR, "type": STR, "image": STR, "imageReferences": STRLIST,
    "skipImageReferences": STRLIST, "key": STR, "roots": STR, "subject": STR, "issuer": STR,
    "additionalExtensions": STRMAP, "attestors": listof(ATTESTOR_SET),
    "attestations": listof(ATTESTATION), "annotations": STRMAP, "repository": STR,
    "cosignOCI11": BOOL, "mutateDigest": BOOL, "verifyDigest": BOOL, "validate": IV_VALIDATE,
    "required": BOOL, "imageRegistryCredentials": CREDENTIALS, "useCache": BOOL,
})
RESOURCE_DESCRIPTION = Schema("resources", {
    "kinds": STRLIST, "name": STR, "names": STRLIST, "namespaces": STRLIST, "annotations": STRMAP,
    "selector": ANY, "namespaceSelector": ANY, "operations": STRLIST,
})
_USER_INFO = {"roles": STRLIST, "clusterRoles": STRLIST, "subjects": ANY}
RESOURCE_FILTER = Schema("match/exclude filter", {"resources": RESOURCE_DESCRIPTION, **_USER_INFO})
MATCH = Schema("match", {
    "any": listof(RESOURCE_FILTER), "all": listof(RESOURCE_FILTER),
    "resources": RESOURCE_DESCRIPTION, **_USER_INFO,
})
EXCLUDE = Schema("exclude", dict(MATCH.fields))
RULE = Schema("rule", {
    "name": NAME, "context": ANY, "reportProperties": STRMAP, "match": MATCH, "exclude": EXCLUDE,
    "imageExtractors": ANY, "preconditions": ANY, "celPreconditions": ANY, "mutate": ANY,
    "validate": ANY, "generate": ANY, "verifyImages": listof(VERIFY_IMAGES),
    "skipBackgroundRequests": BOOL,
})
SPEC = Schema("spec", {
    "rules": listof(RULE), "applyRules": STR, "failurePolicy": STR, "validationFailureAction": STR,
    "validationFailureActionOverrides": ANY, "emitWarning": BOOL, "admission": BOOL,
    "background": BOOL, "schemaValidation": BOOL, "webhookTimeoutSeconds": INT,
    "mutateExistingOnPolicyUpdate": BOOL, "generateExisting": BOOL,
    "generateExistingOnPolicyUpdate": BOOL, "useServerSideApply": BOOL,
    "webhookConfiguration": ANY,
})
METADATA = Schema("metadata", {
    "name": NAME, "namespace": NAME, "annotations": STRMAP, "labels": STRMAP, "generateName": NAME,
    "uid": STR, "resourceVersion": STR, "generation": ANY, "creationTimestamp": ANY,
    "managedFields": ANY, "finalizers": ANY, "ownerReferences": ANY, "deletionTimestamp": ANY,
    "deletionGracePeriodSeconds": ANY, "selfLink": STR,
})
POLICY = Schema("policy", {"apiVersion": STR, "kind": STR, "metadata": METADATA, "spec": SPEC, "status": ANY})
