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


def parse_images(text: str, origin: str) -> list[ImageItem]:
    """Any SPEC §6 list format, detected by content (pullguard.engine.images); raises ValueError
    (an ImageListError with origin:line:column)."""
    from pullguard.engine.images import parse_image_list

    return [ImageItem(e.image, node_label_of(e), e.node, e.node_message) for e in parse_image_list(text, origin)]
