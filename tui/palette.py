"""Command palette provider: every dashboard action by name (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (name, action, help). Every action a key reaches is here too.
PALETTE_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Save policy", "save", "Write the policy atomically (ctrl+s)"),
    ("Open policy", "open_policy", "Open another policy file (ctrl+o)"),
    ("Open the Talos sample", "open_sample('talos')", "The bundled ImageVerificationConfig, verified offline (f5)"),
    ("Open the Kyverno sample", "open_sample('kyverno')",
     "The bundled ClusterPolicy, attestations included (builder, ledger), verified offline (f5)"),
    ("Open the ImageValidatingPolicy sample", "open_sample('kyverno-ivpol')",
     "The Kyverno sample converted to an ImageValidatingPolicy, verified offline (f5)"),
    ("Load image list", "load_images", "Plain text, kubectl JSON, manifests or talosctl image ls (ctrl+l)"),
    ("Add image", "add_image", "Add one image reference (a, in the table)"),
    ("Remove selected image", "remove_image", "Remove the selected image (delete, in the table)"),
    ("Verify all images", "verify_all", "Run real signature verification for every image (f5)"),
    ("Verify selected image", "verify_selected", "Verify the selected image (enter, in the table)"),
    ("Cancel verification", "cancel_verify", "Stop the running verification (escape)"),
    ("Filter by outcome", "cycle_filter", "Show only one outcome; repeat to cycle (f, in the table)"),
    ("Show all images", "clear_filter", "Remove the outcome filter"),
    ("Find images", "find_images", "Filter the table by text: image, subject, rule, pod (/, in the table)"),
    ("Zoom pane", "zoom", "The focused pane fills the screen, or goes back (z)"),
    ("Copy details", "show_details", "Open the selected image's details as copyable text (c)"),
    ("Show each rule tried", "toggle_rules", "Detail pane: every rule on its own lines, or long runs folded (e)"),
    ("Compare with saved version", "compare_saved", "What the edits change over the loaded images, against the file on disk (ctrl+r)"),
    ("Next problem", "next_problem", "Jump to the next diagnostic in the editor (f8)"),
    ("Focus editor", "focus('editor')", "Move focus to the policy editor (f2)"),
    ("Focus image table", "focus('images')", "Move focus to the image table (f3)"),
    ("Focus problems", "focus('problems')", "Move focus to the diagnostics list (f4)"),
    ("Help", "help", "Every key the dashboard answers to (f1)"),
    ("Quit", "quit", "Leave pullguard; asks first when there are unsaved edits (ctrl+q)"),
)


class PullguardCommands(Provider):
    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in PALETTE_COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self._run, action), text=name, help=help_text)

    async def discover(self) -> Hits:
        for name, action, help_text in PALETTE_COMMANDS:
            yield DiscoveryHit(name, partial(self._run, action), text=name, help=help_text)

    async def _run(self, action: str) -> None:
        await self.app.run_action(action)
