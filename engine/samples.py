"""Where the bundled samples are (SPEC §8), installed or in a checkout.

`pip install .` puts `samples/` inside the installation as the package `pullguard.samples`, so
plain `pullguard` works from any directory. In a source checkout (editable install, or running
from the tree) the repository's own `samples/` is used. Only paths are computed here: nothing
is read, so the TUI's first frame pays nothing for it.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = "pullguard.samples"
# The checkout's samples/, next to engine/.
_REPO_SAMPLES = Path(__file__).resolve().parents[1] / "samples"


class SamplesNotFound(FileNotFoundError):
    """Neither an installed `pullguard.samples` nor a checkout's samples/ is there."""


def sample_dir() -> Path:
    """The samples directory: the installed package's files, else the checkout's `samples/`."""
    installed = _installed_dir()
    if installed is not None and (installed / "trusted_root.json").is_file():
        return installed
    if (_REPO_SAMPLES / "trusted_root.json").is_file():
        return _REPO_SAMPLES
    raise SamplesNotFound(
        "the bundled samples are missing: reinstall pullguard (pip install .) or, in a checkout, "
        "regenerate them with: python -m devtools.make_samples"
    )


def _installed_dir() -> Path | None:
    from importlib import resources
    from importlib.util import find_spec

    try:
        if find_spec(PACKAGE) is None:
            return None
        root = resources.files(PACKAGE)
    except (ImportError, TypeError, ValueError):
        return None
    # A wheel install unpacks to real files; a zipped install is not supported (no oci: path).
    path = Path(str(root))
    return path if path.is_dir() else None


def sample_policy_path(dialect: str = "talos") -> Path:
    """`talos/policy.yaml` (ImageVerificationConfig and mirrors), `kyverno/cluster-policy.yaml`, or
    its conversion `kyverno/image-validating-policy.yaml` (dialect `kyverno-ivpol`)."""
    names = {"talos": "talos/policy.yaml", "kyverno": "kyverno/cluster-policy.yaml",
             "kyverno-ivpol": "kyverno/image-validating-policy.yaml"}
    if dialect not in names:
        raise ValueError(f"no sample policy for dialect {dialect!r} ({', '.join(names)})")
    return sample_dir() / names[dialect]


# Image list formats (SPEC §6) -> file in samples/images/.
IMAGE_LISTS = {
    "plain": "images.txt",
    "kubectl-json": "pods.json",
    "manifests": "deployment.yaml",
    "talosctl": "talosctl-image-ls.txt",
}


def sample_images_path(fmt: str = "plain") -> Path:
    """The sample image list in one format: plain, kubectl-json, manifests or talosctl."""
    if fmt not in IMAGE_LISTS:
        raise ValueError(f"no sample image list in format {fmt!r} ({', '.join(IMAGE_LISTS)})")
    return sample_dir() / "images" / IMAGE_LISTS[fmt]


def sample_trusted_root() -> Path:
    """`trusted_root.json` of the samples' private Sigstore (pass as `--trusted-root`)."""
    return sample_dir() / "trusted_root.json"


def sample_registry() -> Path:
    """The OCI image layout holding the sample images and their signatures."""
    return sample_dir() / "registry"


def sample_mirrors() -> dict[str, list[str]]:
    """`--mirror` equivalents for the sample registries. The sample policies already declare
    these (with skipFallback); they are for a policy of one's own over the sample images."""
    layout = f"oci:{sample_registry()}"
    return {"ghcr.io": [layout], "quay.io": [layout]}


if __name__ == "__main__":  # `cd "$(python -m pullguard.engine.samples)"`: the README's demo commands
    print(sample_dir())
