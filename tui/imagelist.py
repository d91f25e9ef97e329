"""The images on the dashboard and where they came from (SPEC §6 lists, the talosctl label)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pullguard.engine.images import ImageEntry


@dataclass(frozen=True)
class ImageItem:
    """An image in the table and where it came from (the talosctl `talos.dev/verified` label)."""

    image: str
    node_label: str | None = None
    node: str | None = None  # talosctl: the node that reported it
    node_message: str | None = None  # talosctl: Talos's verification message (the label's value)
    place: str | None = None  # a cluster image: `namespace/pod` it runs in

    def node_text(self) -> str | None:
        if self.node_label is None:
            return None
        text = self.node_label if self.node is None else f"{self.node_label} on {self.node}"
        return f"{text}: {self.node_message}" if self.node_message else text


def node_label_of(entry: ImageEntry) -> str | None:
    value = entry.node_verified
    if value is None:
        return None
    return "verified" if value else "unverified"


def place_of(entry: ImageEntry) -> str | None:
    """`namespace/pod` of a cluster image (either part alone when only it is known)."""
    parts = [part for part in (entry.namespace, entry.pod) if part]
    return "/".join(parts) or None


def parse_images(text: str, origin: str) -> list[ImageItem]:
    """Any SPEC §6 list format, detected by content (pullguard.engine.images); raises ValueError
    (an ImageListError with origin:line:column). One item per image, in first-seen order; an image
    that runs in several pods shows the first and how many more (`kube-system/etcd-0 +2`)."""
    from pullguard.engine.images import parse_image_list

    entries = parse_image_list(text, origin)
    places: dict[str, list[str]] = {}
    for entry in entries:
        place = place_of(entry)
        if place is not None and place not in places.setdefault(entry.image, []):
            places[entry.image].append(place)
    items: dict[str, ImageItem] = {}
    for e in entries:
        if e.image in items:
            continue
        shown = places.get(e.image) or []
        place = None if not shown else shown[0] + (f" +{len(shown) - 1}" if len(shown) > 1 else "")
        items[e.image] = ImageItem(e.image, node_label_of(e), e.node, e.node_message, place)
    return list(items.values())


# Outcomes before verification that mean "the policy demands a signature".
_PENDING = frozenset({"unverified", "verifying"})


def node_disagrees(node_label: str, outcome: str) -> bool:
    """The node's `talos.dev/verified` label and pullguard's verdict tell different stories.

    Talos labels an image only after verifying its signature, so a labelled image should verify
    here and an unlabelled one should not (as `pullguard verify` marks it). Before verification
    the simulated outcome already tells: a rule that skips, allows or denies a labelled image, or
    one that demands a signature of an image the node did not verify, disagrees."""
    if node_label not in ("verified", "unverified"):
        return False
    node_verified = node_label == "verified"
    if outcome in _PENDING:
        return not node_verified
    return node_verified != (outcome == "verified")
