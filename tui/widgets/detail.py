"""The detail pane: why the selected image got its decision, and the verification evidence.

Everything in it comes from outside (the image, the policy, the registry, certificates) and is
shown escaped (SPEC §6).

`detail_text` is a pure function of what the engine returned, so the copyable plain text and
the coloured pane are the same content. The pane folds long runs of rules that did not decide
(a 200-rule policy lists 400 lines, which took 150-250 ms to lay out and draw after every edit
that changed the selected image); `e` unfolds them, and the copyable text always has every rule.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from pullguard.engine.display import escape_control

from ..styles import OUTCOME_STYLE, SEVERITY_STYLE
from ..themetext import themed


def _field(out: Text, name: str, value, style: str = "") -> None:
    """One `name  value` line; a value that is not known reads `none` (never JSON's `null`)."""
    out.append(f"{name:<10}", style="dim")
    if value is None:
        out.append("none", style="dim")
    else:
        out.append(escape_control(str(value)), style=style)
    out.append("\n")


def verifier_lines(out: Text, verifier) -> None:
    out.append("verifier\n", style="bold")
    if verifier is None:
        out.append("none (nothing to verify)\n", style="dim")
        return
    data = verifier.to_json()
    if data.get("type") == "keyless":
        _field(out, "type", "keyless")
        _field(out, "issuer", data.get("issuer"))
        if data.get("subject") is not None:
            _field(out, "subject", data.get("subject"))
        if data.get("subject_regex") is not None:
            _field(out, "regex", data.get("subject_regex"))
        regex = getattr(verifier, "issuer_regex", None)
        if regex:
            _field(out, "iss.regex", regex)
    else:
        _field(out, "type", "public key")
        _field(out, "key", data.get("key_fingerprint"))


def result_lines(out: Text, result: dict, *, fold: bool = False) -> None:
    out.append("verification\n", style="bold")
    outcome = result.get("outcome")
    _field(out, "outcome", outcome, OUTCOME_STYLE.get(outcome or "", ""))
    _field(out, "message", result.get("message"))
    _field(out, "digest", result.get("digest"))
    signature = result.get("signature")
    if signature:
        _field(out, "format", signature.get("format"))
        _field(out, "signed", signature.get("artifact_digest"))
        if signature.get("repository"):  # a policy's `repository`: not the image's own
            _field(out, "found in", signature.get("repository"))
        identity = signature.get("identity")
        if identity:
            _field(out, "issuer", identity.get("issuer"))
            _field(out, "subject", identity.get("subject"))
        if signature.get("key_fingerprint") is not None:  # a keyless signature has none
            _field(out, "key", signature.get("key_fingerprint"))
        tlog = signature.get("tlog")
        if tlog:
            _field(out, "tlog", tlog.get("log_index"))
            _field(out, "logged", tlog.get("integrated_time"))
        else:
            _field(out, "tlog", None)
    attestation_lines(out, result.get("attestations") or [], fold=fold)
    validation_lines(out, result.get("validations") or [])
    errors = result.get("errors") or []
    if errors:
        out.append(f"errors ({len(errors)})\n", style=SEVERITY_STYLE["error"])
        for error in errors:
            out.append(f"- {escape_control(str(error))}\n")


def validation_lines(out: Text, validations: list) -> None:
    """ImageValidatingPolicy: each validation tried, in order, with its value (`error` when it
    could not be answered) and where it is written."""
    if not validations:
        return
    out.append("validations\n", style="bold")
    for trial in validations:
        value = trial.get("value")
        word = "error" if value is None else str(value).lower()
        style = OUTCOME_STYLE.get({"true": "verified", "false": "failed"}.get(word, "error"), "")
        out.append(f"{word:<6}", style=style)
        out.append(escape_control(f"{trial.get('policy')}[{trial.get('index')}] line {trial.get('line')}: "
                                  f"{trial.get('expression')}") + "\n")
        if trial.get("message"):
            out.append(f"      {escape_control(str(trial.get('message')))}\n", style="dim")


# Lines of a predicate shown in the pane; the copyable details (`c`) and `e` show it whole.
PREDICATE_LINES = 6


def attestation_lines(out: Text, attestations: list, *, fold: bool) -> None:
    """Kyverno attestations that verified: predicate type, where and by whom, the statement's
    subject, and the predicate itself (folded in the pane)."""
    import json

    for att in attestations:
        out.append("attestation\n", style="bold")
        _field(out, "type", att.get("predicate_type"))
        _field(out, "format", f"{att.get('format')} {att.get('reference')}")
        if att.get("repository"):
            _field(out, "found in", att.get("repository"))
        identity = att.get("identity")
        if identity:
            _field(out, "signer", f"{identity.get('subject')} ({identity.get('issuer')})")
        else:
            _field(out, "key", att.get("key_fingerprint"))
        for subject in att.get("subject") or []:
            digests = subject.get("digest") if isinstance(subject, dict) else None
            named = ", ".join(f"{k}:{v}" for k, v in digests.items()) if isinstance(digests, dict) else subject
            _field(out, "subject", named)
        lines = json.dumps(att.get("predicate"), indent=2, sort_keys=True, ensure_ascii=False).splitlines()
        out.append("predicate\n", style="dim")
        shown = lines[:PREDICATE_LINES] if fold and len(lines) > PREDICATE_LINES + 1 else lines
        for line in shown:
            out.append(f"  {escape_control(line)}\n")
        if len(shown) < len(lines):
            out.append(f"  … {len(lines) - len(shown)} more lines (e: unfold, c: copy)\n", style="dim")


def detail_text(
    image: str, decision, trials, result: dict | None, node_label: str | None = None, *, fold: bool = False
) -> Text:
    """Everything the pane shows for one image (`result` is a VerifyResult's `to_json()`).

    With `fold`, runs of FOLD_RUN or more rules that did not decide become one line each.
    """
    out = Text(no_wrap=False)
    out.append(f"{escape_control(image)}\n", style="bold")
    if decision is None:
        out.append("not simulated yet\n", style="dim")
        return out
    _field(out, "subject", decision.match_subject)
    if node_label:
        _field(out, "node", node_label)
    if decision.error:
        _field(out, "error", decision.error, SEVERITY_STYLE["error"])
    rule = f"rule {decision.rule_id}" if decision.rule_id is not None else "no rule"
    _field(out, "decision", f"{decision.action or 'none'} ({rule})")
    _field(out, "message", decision.message)
    if decision.rules:
        out.append("applying rules\n", style="bold")
        for entry in decision.rules:
            # An ImageValidatingPolicy has no rules: the policy alone names it.
            name = entry.get("policy") if entry.get("rule") is None else f"{entry.get('policy')}/{entry.get('rule')}"
            line = f"{name} entry {entry.get('entry')}: {entry.get('action')}"
            out.append(f"{escape_control(line)}\n")
    if result is not None:  # after verification the evidence comes first
        result_lines(out, result, fold=fold)
    verifier_lines(out, decision.verifier)
    out.append("rules tried, in order\n", style="bold")
    if not trials:
        out.append("(no rules)\n", style="dim")
    not_tried_said = False
    for run in trial_runs(trials) if fold else [[trial] for trial in trials]:
        if _kind(run[0]) == "not tried":
            # After the deciding rule: one heading, then each rule on one line.
            if not not_tried_said:
                not_tried_said = True
                decided = f"rule {decision.rule_id} decided" if decision.rule_id is not None else "a rule decided"
                out.append(f"not tried ({decided} first)\n", style="italic dim")
            if len(run) >= FOLD_RUN:
                out.append(f"{run[0].rule_id}–{run[-1].rule_id} ", style="dim")
                out.append(f"{len(run)} rules", style="dim")
                out.append("  e shows each\n", style="dim")
                continue
            for trial in run:
                out.append(f"{trial.rule_id} ", style="dim")
                out.append(f"{escape_control(trial.pattern)}\n", style="dim")
            continue
        if len(run) >= FOLD_RUN:
            _folded_line(out, run, decision.match_subject)
            continue
        for trial in run:
            mark, style = ("match", "green") if trial.matched else ("no", "dim")
            out.append(f"{trial.rule_id} ", style="dim")
            out.append(f"{mark:<5} ", style=style)
            out.append(f"{escape_control(trial.pattern)}\n")
            out.append(f"  {escape_control(trial.reason)}\n", style="italic")
    return out


# Runs of at least this many rules that did not decide are folded into one line.
FOLD_RUN = 4
_NOT_TRIED = "not tried"


def _kind(trial) -> str:
    if trial.matched:
        return "match"
    return "not tried" if trial.reason.startswith(_NOT_TRIED) else "no"


def trial_runs(trials) -> list[list]:
    """Consecutive trials of the same kind (match / no / not tried), in order."""
    runs: list[list] = []
    for trial in trials:
        if runs and not trial.matched and _kind(runs[-1][0]) == _kind(trial):
            runs[-1].append(trial)
        else:
            runs.append([trial])
    return runs


def _folded_line(out: Text, run: list, subject: str | None) -> None:
    first, last = run[0], run[-1]
    out.append(f"{first.rule_id}–{last.rule_id} ", style="dim")
    out.append(f"{'no':<5} ", style="dim")
    out.append(f"{len(run)} rules", style="bold")
    out.append("  e shows each\n", style="dim")
    reasons = {trial.reason for trial in run}
    if len(reasons) == 1:
        reason = reasons.pop()
    elif subject:
        reason = f"none of these patterns matches '{subject}'"
    else:
        reason = "none of these rules decided"
    out.append(f"  {escape_control(reason)}\n", style="italic")


class DetailPane(VerticalScroll):
    DEFAULT_CSS = """
    DetailPane { border: round $panel-lighten-2; }
    DetailPane:focus { border: round $accent; }
    DetailPane > Static { width: 1fr; }
    """

    can_focus = True
    ALLOW_MAXIMIZE = True  # z zooms it (a scroll container is not zoomable by default)
    BINDINGS = [
        Binding("c", "app.show_details", "Copy", id="detail.copy", tooltip="Open these details as copyable text"),
        Binding(
            "e", "app.toggle_rules", "Each rule", id="detail.each_rule",
            tooltip="Show each rule tried, or fold long runs of rules that did not decide",
        ),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = Text("")
        self.key: tuple | None = None  # what `text` was made from (see PullguardApp._show_detail)
        self.unfolded = False  # `e`: every rule tried on its own lines
        self.updates = 0  # how many times the content changed (tests, bench)

    def compose(self):
        yield Static(id="detail-body")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._paint())

    def show(self, text: Text, key: tuple | None = None) -> None:
        self.key = key
        if text.plain == self.text.plain and text.spans == self.text.spans:
            return
        self.text = text
        self.updates += 1
        self._paint()

    def _paint(self) -> None:
        self.query_one("#detail-body", Static).update(themed(self.text, self.app.theme_variables))

    @property
    def plain(self) -> str:
        return self.text.plain
