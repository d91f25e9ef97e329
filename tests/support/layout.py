"""OCI image layouts for `oci:PATH` mirrors, written by devtools' one layout writer
(`devtools.oci_layout_writer.OCILayoutWriter`, which also builds the bundled samples).

Build a layout directly with the writer (`image`, `legacy_signature`, `bundle_referrer`, `bundle_tag`),
or copy what a registry test pushed with `copy_to_oci_layout`.
"""

from __future__ import annotations

import json
from pathlib import Path

from devtools.oci_layout_writer import OCI_INDEX, OCI_MANIFEST, Descriptor, OCILayoutWriter
from tests.support.push import Auth, distribution_client

_ALL_MANIFEST_TYPES = ", ".join([OCI_MANIFEST, OCI_INDEX, "application/vnd.docker.distribution.manifest.v2+json",
                                 "application/vnd.docker.distribution.manifest.list.v2+json"])


def copy_to_oci_layout(base_url: str, repo: str, reference: str, layout: Path, *, ref_name: str | None = None,
                       auth: Auth = None) -> str:
    """Copy a manifest (recursively: index children, config, layers) from a registry into an
    OCI layout; list it in index.json under `ref_name` when one is given (a referrer needs none)."""
    writer = OCILayoutWriter(layout)
    with distribution_client(base_url, auth) as client:
        def copy(ref: str) -> Descriptor:
            r = client.get(repo, "manifests", ref, _ALL_MANIFEST_TYPES)
            doc = json.loads(r.content)
            for child in doc.get("manifests") or []:
                copy(child["digest"])
            for blob in ([doc["config"]] if "config" in doc else []) + (doc.get("layers") or []):
                writer.blob(client.get(repo, "blobs", blob["digest"]).content)
            return writer.blob(r.content, doc.get("mediaType") or r.headers["content-type"])

        desc = copy(reference)
    if ref_name:
        writer.tag(ref_name, desc)
    return desc.digest
