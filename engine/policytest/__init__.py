"""PolicyTest files: what a policy must decide for given images, checked offline (`pullguard test`).

    apiVersion: pullguard.dev/v1alpha1
    kind: PolicyTest
    policy: ../talos/policy.yaml        # relative to this file
    mirrors: {ghcr.io: oci:../layout}   # only for `verify: true` cases; a list keeps order
    trustedRoot: ../trusted_root.json
    insecureRegistries: [registry.local:5000]
    cases:
      - image: ghcr.io/siderolabs/kubelet:v1.36.0
        action: verify                  # verify | skip | deny | allow
        rule: 1                         # Talos rule index, or Kyverno "policy/rule"
      - image: ghcr.io/org/app:v1
        verify: true                    # run the real verification
        outcome: verified               # verified | failed | skipped | denied | allowed | error
        message: verified via bundle    # a prefix of the message

Loading never raises on bad input: every problem is a Diagnostic with the line and column in
the test file. Running a case compares the policy's Decision (and, for `verify: true`, the
verification result) with what the case expects.

Modules: `format` (the file format and its loading), `discover` (test files in folders),
`checks` (a decision or verification against a case), `run` (a file, its policy and its cases).
"""
