"""Helpers the tests share (test modules import these, never each other or conftest):

- registry: Debian's docker-registry on loopback, with basic or token auth
- push: images and cosign-style signatures pushed over the distribution API
- layout: OCI layouts for `oci:` mirrors (devtools' one layout writer) and copies from a registry
- signing: keys and verifiers for the private Sigstore (devtools/private_sigstore.py)
- policies: policy texts the tests of several faces share
- worlds: registries filled with signed images, ready for one test module
- samples: what the README promises for the bundled samples
- realworld: where the real production signatures are read from
- scripted_http: a loopback HTTP server answering from a script (faults a real registry cannot make)
"""
