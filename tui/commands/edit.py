"""`pullguard edit POLICY [--images FILE] [verify options]`, and `pullguard` on the bundled sample.

Imported at argument-parse time: only argparse and stdlib at top level; Textual and the
app load when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..verify_options import add_verify_arguments, to_verify_kwargs, unreadable_trusted_root
from .inputs import add_images_option

# The bundled sample lives next to the packages (installed with them, SPEC §8).
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples"
# Preferred sample file names, then anything that looks right.
SAMPLE_POLICY_NAMES = ("talos-policy.yaml", "talos.yaml", "policy.yaml")
SAMPLE_IMAGE_NAMES = ("images.txt",)

# What `pullguard edit` offers for a POLICY that does not exist yet (SPEC §7): written only when
# saved. Each loads with no diagnostic of its own (tests/test_tui_editing.py checks).
TALOS_STARTER = """\
# A Talos ImageVerificationConfig (pullguard edit's starter). Rules are tried top-down and the
# first rule whose image pattern matches decides; put specific rules above general ones.
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  # Talos's own images, signed keyless by Sidero Labs' CI.
  - image: "ghcr.io/siderolabs/*"
    keyless:
      issuer: https://accounts.google.com
      subject: siderolabs-talos-ci@talos-production.iam.gserviceaccount.com
  # Every other image is refused until a rule above admits it.
  - image: "*"
    deny: true
"""

KYVERNO_STARTER = r"""# A Kyverno ClusterPolicy with verifyImages (pullguard edit's starter). Every verifyImages entry
# whose imageReferences match an image applies, and each of its attestors must verify.
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-image-signatures
spec:
  webhookTimeoutSeconds: 30
  rules:
    - name: verify-signatures
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences:
            - "ghcr.io/myorg/*"
          failureAction: Enforce
          attestors:
            - entries:
                - keyless:
                    issuer: https://token.actions.githubusercontent.com
                    subjectRegExp: '^https://github\.com/myorg/[^/]+/\.github/workflows/release\.yaml@refs/tags/v'
                    rekor:
                      url: https://rekor.sigstore.dev
"""

STARTERS = {"talos": TALOS_STARTER, "kyverno": KYVERNO_STARTER}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY", help="policy file to edit (a missing one starts from a starter, written when saved)")
    add_images_option(parser)
    add_verify_arguments(parser)


def _read_images(path: str):
    from pullguard.engine.textfile import read_text

    from ..imagelist import parse_images

    if path == "-":
        text = read_text("-")
        _reattach_terminal()
        return parse_images(text, "<stdin>")
    return parse_images(read_text(path), path)


def _reattach_terminal() -> None:
    # The list came through a pipe; the dashboard still needs the keyboard.
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return
    os.dup2(fd, 0)
    os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process


def run(args: argparse.Namespace) -> int:
    from pullguard.engine.display import escape_control
    from pullguard.engine.textfile import TextFileError, read_text

    from ..app import PullguardApp
    from ..editing import trusted_root_problem

    problem = unreadable_trusted_root(args)
    if problem is not None:
        print(f"pullguard: error: {escape_control(problem)}", file=sys.stderr)
        return 2
    path = Path(args.policy)
    if args.trusted_root:  # SPEC §6: a trusted root that cannot be read is a usage error at start
        problem = trusted_root_problem(args.trusted_root)
        if problem:
            print(f"pullguard: {escape_control(problem)}", file=sys.stderr)
            return 2
    new_file = False
    try:
        if path.is_dir():
            print(f"pullguard: {escape_control(str(path))}: is a directory", file=sys.stderr)
            return 2
        if not path.exists():
            # Nothing is written until the person saves: the app offers a starter (SPEC §7).
            new_file = True
            if not path.parent.is_dir():
                print(f"pullguard: {escape_control(f'{path.parent}: no such directory')}", file=sys.stderr)
                return 2
            text = ""
        else:
            text = read_text(path)
    except OSError as exc:
        print(f"pullguard: {escape_control(f'{path}: {exc.strerror or exc}')}", file=sys.stderr)
        return 2
    except TextFileError as exc:
        print(f"pullguard: cannot read policy {escape_control(str(exc))}", file=sys.stderr)
        return 2
    images = []
    for images_file in args.images_files:  # repeatable: the lists in the order given
        try:
            images += _read_images(images_file)
        except OSError as exc:
            print(f"pullguard: {escape_control(f'{images_file}: {exc.strerror or exc}')}", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"pullguard: {escape_control(str(exc))}", file=sys.stderr)
            return 2
    app = PullguardApp(str(path), text, images, to_verify_kwargs(args), new_file=new_file)
    app.run()
    return 0


def find_sample(directory: Path = SAMPLES_DIR) -> tuple[Path | None, Path | None]:
    """(policy, image list) of the bundled sample; None where it is not there."""
    if not directory.is_dir():
        return None, None
    policy = next((directory / n for n in SAMPLE_POLICY_NAMES if (directory / n).is_file()), None)
    if policy is None:
        for candidate in sorted(directory.glob("*.y*ml")):
            try:
                if "ImageVerificationConfig" in candidate.read_text(encoding="utf-8"):
                    policy = candidate
                    break
            except (OSError, UnicodeDecodeError):
                continue
    images = next((directory / n for n in SAMPLE_IMAGE_NAMES if (directory / n).is_file()), None)
    if images is None:
        images = next(iter(sorted(directory.glob("images*.txt"))), None)
    return policy, images


SAMPLE_IMAGES_FALLBACK = (
    "ghcr.io/siderolabs/kubelet:v1.33.0",
    "ghcr.io/siderolabs/installer:v1.10.0",
    "docker.io/library/nginx:1.25",
    "registry.k8s.io/pause:3.10",
)


def sample_app(directory: Path = SAMPLES_DIR):
    """The dashboard on the bundled sample (a built-in tiny policy until samples/ is filled)."""
    from ..app import PullguardApp
    from ..imagelist import ImageItem, parse_images

    try:  # the samples as shipped (samples/ or the installed pullguard.samples)
        from pullguard.engine import samples

        shipped = samples.sample_policy_path("talos")
        listed = parse_images(samples.sample_images_path("plain").read_text(encoding="utf-8"), "images.txt")
        shipped_options = {"trusted_root": str(samples.sample_trusted_root()), "mirrors": samples.sample_mirrors()}
        return PullguardApp(str(shipped), shipped.read_text(encoding="utf-8"), listed, shipped_options, sample=True)
    except (ImportError, OSError, ValueError):
        pass  # fall back to whatever is in `directory`, then to a built-in tiny policy
    policy, image_list = find_sample(directory)
    options: dict[str, object] = {}
    if policy is not None:
        text = policy.read_text(encoding="utf-8")
        path = str(policy)
        trusted_root = directory / "trusted_root.json"
        if trusted_root.is_file():
            options["trusted_root"] = str(trusted_root)
    else:
        text, path = TALOS_STARTER, "sample-policy.yaml"
    if image_list is not None:
        images = parse_images(image_list.read_text(encoding="utf-8"), str(image_list))
    else:
        images = [ImageItem(image) for image in SAMPLE_IMAGES_FALLBACK]
    return PullguardApp(path, text, images, options, sample=True)


def run_sample() -> int:
    sample_app().run()
    return 0
