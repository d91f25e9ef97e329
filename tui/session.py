"""What the dashboard works on: the policy file, the images, the last analysis, this session's verdicts.

Plain Python, no Textual: the app owns the widgets and asks the session what to show. A verdict
is shown for an image only while the image's decision still asks for the same verification
(`shown_result`, keyed as the engine's verify cache keys its results): editing an unrelated
rule keeps it, changing the image's rule drops it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from .imagelist import ImageItem
from .widgets.images import Row

if TYPE_CHECKING:
    from pullguard.engine.analysis import Analysis
    from pullguard.engine.policy.dialect import PolicyModel
    from pullguard.engine.vocabulary import Decision, RuleTrial

# The outcome column before verification: what the simulated action leads to.
SIMULATED_OUTCOME = {"allow": "allowed", "skip": "skipped", "deny": "denied", "verify": "unverified"}


class Session:
    def __init__(
        self,
        policy_path: str,
        saved_text: str,
        items: list[ImageItem],
        verify_options: dict[str, Any],
        *,
        sample: bool = False,
    ) -> None:
        self.policy_path = policy_path
        self.saved_text = saved_text  # the file as it is on disk (for "unsaved edits" and compare)
        self.sample = sample  # the bundled sample: saving asks for a new name
        self.verify_options = verify_options
        self.items: list[ImageItem] = []
        self._item_names: set[str] = set()  # the images in self.items, for O(1) duplicate checks
        self.set_items(items)
        self.analysis: Analysis | None = None
        self.policy: PolicyModel | None = None  # the policy the decisions came from (the last good one while stale)
        self.results: dict[str, Any] = {}  # image -> VerifyResult, the session's verdicts
        self.verify_cache: Any = None  # pullguard.engine.verify.VerifyCache, made by the first run
        self.verifying: set[str] = set()  # images of the running verification not yet reported
        self._decision_map: tuple[Analysis | None, dict[str, Decision]] = (None, {})

    # -- images ----------------------------------------------------------------------------

    @property
    def images(self) -> list[str]:
        return [item.image for item in self.items]

    def add_item(self, item: ImageItem) -> bool:
        """Add an image; False when it is already there."""
        if item.image in self._item_names:
            return False
        self.items.append(item)
        self._item_names.add(item.image)
        return True

    def set_items(self, items: list[ImageItem]) -> None:
        self.items = []
        self._item_names = set()
        for item in items:
            self.add_item(item)

    def remove(self, image: str) -> None:
        self.set_items([item for item in self.items if item.image != image])
        self.results.pop(image, None)

    def has(self, image: str) -> bool:
        return image in self._item_names

    def item(self, image: str) -> ImageItem:
        return next((i for i in self.items if i.image == image), ImageItem(image))

    # -- analysis and decisions ----------------------------------------------------------------

    def apply(self, analysis: Analysis) -> None:
        self.analysis = analysis
        if not analysis.stale and analysis.loaded.policy is not None:
            self.policy = analysis.loaded.policy

    @property
    def verifiable(self) -> bool:
        """Whether the policy as analysed can be verified (parsed, no errors)."""
        analysis = self.analysis
        return analysis is not None and analysis.loaded.policy is not None and not analysis.errors

    def decisions(self) -> dict[str, Decision]:
        """image -> Decision of the current analysis (built once per analysis, not per call)."""
        analysis = self.analysis
        if analysis is None or analysis.decisions is None:
            return {}
        if self._decision_map[0] is not analysis:
            self._decision_map = (analysis, {decision.image: decision for decision in analysis.decisions})
        return self._decision_map[1]

    def result_key(self, decision: Decision) -> Hashable:
        """What a verdict depends on: the action and the engine's `result_key` (the rule's
        verifier or the dialect's requirements, and the trusted root)."""
        from pullguard.engine.verify.cache import result_key  # light: no verification stack

        return (decision.action, result_key(decision, self.verify_options.get("trusted_root")))

    def shown_result(self, image: str, decision: Decision | None) -> Any:
        """The session's verdict for `image`, if it still holds for `decision`: editing an
        unrelated rule keeps it, changing what the image's rule asks for drops it."""
        result = self.results.get(image)
        if result is None or decision is None or self.result_key(result.decision) != self.result_key(decision):
            return None
        return result

    def row(self, item: ImageItem, decision: Decision | None) -> Row:
        if decision is None:
            return Row(item.image, "", "", "", "", item.node_label or "", item.place or "")
        action = decision.action
        outcome = "error" if action is None else SIMULATED_OUTCOME.get(action, action)
        image = item.image
        if self.results or self.verifying:  # none while only simulating: the common case
            if image in self.verifying and action == "verify":
                outcome = "verifying"
            else:
                result = self.shown_result(image, decision)
                if result is not None:
                    outcome = result.outcome
        return Row(
            image, decision.match_subject or "", decision.rule_id or "-", action or "-", outcome,
            item.node_label or "", item.place or "",
        )

    def rows(self) -> list[Row]:
        """Every item's row; inlined for the usual case (2,000 rows per analysis while typing)."""
        decisions = self.decisions()
        if self.results or self.verifying:
            return [self.row(item, decisions.get(item.image)) for item in self.items]
        make, outcomes, rows = tuple.__new__, SIMULATED_OUTCOME, []
        for item in self.items:
            decision = decisions.get(item.image)
            if decision is None:
                rows.append(self.row(item, None))
                continue
            action = decision.action
            outcome = "error" if action is None else outcomes.get(action, action)
            rule = decision.rule_id or "-"
            rows.append(make(Row, (
                item.image, decision.match_subject or "", rule, action or "-", outcome, item.node_label or "", item.place or "",
            )))
        return rows

    def detail_inputs(self, image: str) -> tuple[Decision | None, list[RuleTrial], Any, str | None]:
        """(decision, rules tried, verification result shown, node text) for one image."""
        decision = self.decisions().get(image)
        trials = self.policy.explain(image) if self.policy is not None else []
        return decision, trials, self.shown_result(image, decision), self.item(image).node_text()

    def outcome_counts(self, images: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for image in images:
            result = self.results.get(image)
            if result is not None:
                counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts
