"""The Kyverno `verifyImages` dialect (ClusterPolicy/Policy, kyverno.io/v1).

- `schema`: the shape of a policy, as `pullguard.engine.yamlschema` schemas;
- `loader`: reading a policy, Kyverno's validation messages and pullguard's lints (`lints`);
- `requirements`: what an applying verifyImages entry asks of an image (attestor sets);
- `match`: which rules see an image (resource kinds, autogen);
- `evaluate`: `KyvernoPolicySet`, the dialect's PolicyModel (every applying entry, no first-match).
"""
