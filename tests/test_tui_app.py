"""The dashboard driven by keys, the way a person uses it (Textual's pilot, no real terminal)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from textual.binding import Binding

from pullguard.tui.app import PullguardApp
from pullguard.tui.imagelist import ImageItem
from pullguard.tui.palette import PALETTE_COMMANDS, PullguardCommands
from pullguard.tui.widgets.detail import DetailPane
from pullguard.tui.widgets.images import ImageTable
from pullguard.tui.widgets.modals import ConfirmScreen, HelpScreen, PromptScreen, TextModal

POLICY = """\
# Production image policy: keep this comment.
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  - image: "ghcr.io/siderolabs/*"   # Sidero's CI signs these
    keyless:
      issuer: https://accounts.google.com
      subject: 'ci@example.com'
  - image: '*'
    skip: true
"""
IMAGES = [ImageItem("ghcr.io/siderolabs/kubelet:v1.33.0"), ImageItem("nginx:1.25", "true")]
SIZE = (100, 30)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def make_app(tmp_path: Path, text: str = POLICY, images=IMAGES, **kwargs) -> PullguardApp:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return PullguardApp(str(path), None, list(images), validate_delay=0.0, **kwargs)


async def settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    """Type `text` as a person does in the editor: after enter the editor indents the new
    line itself (as the line above wants), so the spaces written after a newline are checked
    against that indentation instead of being typed."""
    keys = {"\n": "enter", " ": "space"}
    first, *lines = text.split("\n")
    await pilot.press(*[keys.get(ch, ch) for ch in first])
    for line in lines:
        await pilot.press("enter")
        body = line.lstrip(" ")
        editor = pilot.app.focused
        if hasattr(editor, "cursor_location"):
            assert editor.cursor_location[1] == len(line) - len(body), (line, editor.cursor_location)
        await pilot.press(*[keys.get(ch, ch) for ch in body])


def table_rows(app) -> dict[str, tuple[str, ...]]:
    """image -> (rule, action, outcome, match subject, node) of each shown row."""
    table = app.table
    rows = {}
    for index in range(table.row_count):
        row = [str(cell) for cell in table.get_row_at(index)]
        rows[row[0]] = tuple(row[1:6])
    return rows


def underlined_segments(app, line_index: int) -> list[str]:
    """Text of the rendered segments on a line that carry an underline style."""
    editor = app.editor
    editor.scroll_to(0, 0, animate=False)
    # Long lines wrap (soft wrap): the document line's first row on screen.
    _, row = editor.wrapped_document.location_to_offset((line_index, 0))
    strip = editor.render_line(row)
    return [seg.text for seg in strip if seg.style is not None and seg.style.underline]


# -- live diagnostics ---------------------------------------------------------------------

ERRORS = [
    # (0-based row the typing starts at the end of, typed text, expected message, underlined text)
    (9, "\n    deny: true", "rule 1: skip and deny cannot both be true", "deny"),
    (7, "\n      subjectRegex: '(ci'", "subjectRegex", "(ci"),
    (4, "\n    sign: yes", "sign", "sign"),
]


@pytest.mark.parametrize("row,typed,message,token", ERRORS)
async def test_typing_an_error_lists_it_underlines_it_and_undo_clears_it(tmp_path, row, typed, message, token):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.session.analysis.errors == 0
        app.editor.move_cursor((row, 0))
        await pilot.press("end")
        await type_text(pilot, typed)
        await settle(app, pilot)
        problems = app.query_one("#problems").diagnostics
        errors = [d for d in problems if d.severity == "error"]
        assert any(message in d.message for d in errors), [d.message for d in problems]
        hit = next(d for d in errors if message in d.message)
        assert hit.line is not None
        ranges = app.editor.underlined(hit.line - 1)
        assert any(severity == "error" for _, _, severity in ranges)
        segments = underlined_segments(app, hit.line - 1)
        assert segments, "the rendered line carries no underline"
        assert token in "".join(segments)
        assert app.dirty

        # Undo the typing: the error and its underline go away.
        for _ in range(len(typed) + 2):
            await pilot.press("ctrl+z")
            if app.editor.text == POLICY:
                break
        await settle(app, pilot)
        assert app.editor.text == POLICY
        assert app.session.analysis.errors == 0
        assert not any(sev == "error" for rs in app.editor._ranges.values() for *_, sev in rs)
        assert not app.dirty


async def test_enter_on_a_problem_jumps_to_its_line_and_column(tmp_path):
    text = POLICY.replace("    skip: true\n", "    skip: true\n    deny: true\n")
    app = make_app(tmp_path, text)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        problems = app.query_one("#problems")
        target = next(d for d in problems.diagnostics if d.severity == "error")
        await pilot.press("f4")
        problems.highlighted = problems.diagnostics.index(target)
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is app.editor
        assert app.editor.cursor_location == (target.line - 1, (target.column or 1) - 1)


@pytest.mark.parametrize("row,rule", [(4, 0), (7, 0), (8, 1), (9, 1)])
async def test_outline_follows_the_cursor(tmp_path, row, rule):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.editor.move_cursor((row, 0))
        await pilot.pause()
        assert app.query_one("#outline").highlighted == rule


async def test_table_follows_the_policy_in_place(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert table_rows(app) == {
            "ghcr.io/siderolabs/kubelet:v1.33.0": ("0000", "verify", "unverified", "ghcr.io/siderolabs/kubelet", ""),
            "nginx:1.25": ("0001", "skip", "skipped", "index.docker.io/library/nginx", "true"),
        }
        shown_before = app.table.shown
        # skip -> deny on the catch-all rule: only that row's cells change.
        app.editor.move_cursor((9, 4))
        await pilot.press(*["delete"] * 4)
        await type_text(pilot, "deny")
        await settle(app, pilot)
        rows = table_rows(app)
        assert rows["nginx:1.25"][:3] == ("0001", "deny", "denied")
        assert rows["ghcr.io/siderolabs/kubelet:v1.33.0"][:3] == ("0000", "verify", "unverified")
        # The same list of shown rows: updated in place, not rebuilt.
        assert app.table.shown is shown_before and shown_before == list(rows)


@pytest.mark.parametrize("keys", [["x"], list("abcdef"), ["a", "backspace", "b", "backspace", "c"]])
async def test_a_burst_of_keys_is_analysed_once(tmp_path, monkeypatch, keys):
    import pullguard.tui.workers.validation as validation

    calls = []

    def counting(text, images, path):
        calls.append(text)
        return real(text, images, path)

    real = validation.analyze
    monkeypatch.setattr(validation, "analyze", counting)
    # A debounce longer than the burst takes, so every key lands inside it.
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    app = PullguardApp(str(path), None, list(IMAGES), validate_delay=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        calls.clear()
        analyses = app.analyses
        app.editor.move_cursor((0, 0))
        await pilot.press(*keys)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert calls == [app.editor.text]  # one analysis, of the text after the last key
        assert app.analyses == analyses + 1


def _styles_of(editor, line_index: int) -> list[tuple[str, object]]:
    """(text, colour) of each segment of a document line as drawn, gutter left out."""
    strip = editor.render_line(line_index - editor.scroll_offset.y)
    segments = [(seg.text, seg.style.color if seg.style else None) for seg in strip]
    return [(text, colour) for text, colour in segments if text.strip() and not text.strip().isdigit()]


EDITS = [
    ("insert a line", lambda e: e.insert("# new line\n", (5, 0))),
    ("delete a line", lambda e: e.delete((5, 0), (6, 0))),
    ("change a word", lambda e: e.replace("skip", (4, 4), (4, 8))),
    ("join two lines", lambda e: e.delete((3, len(e.document.get_line(3))), (4, 0))),
    ("undo", lambda e: (e.insert("x", (2, 0)), e.undo())),
    ("paste many lines", lambda e: e.insert("# a\n# b\n# c\n# d\n", (1, 0))),
]


@pytest.mark.parametrize("name,edit", EDITS, ids=[name for name, _ in EDITS])
async def test_editor_draws_every_line_as_the_document_has_it_after_an_edit(tmp_path, name, edit):
    app = make_app(tmp_path, _numbered_policy(30), [ImageItem("nginx:1.25")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        editor = app.editor
        editor.render_lines(editor.region.reset_offset)  # every visible line drawn and cached
        edit(editor)
        await settle(app, pilot)
        gutter = editor.gutter_width
        for y in range(min(editor.size.height, editor.document.line_count)):
            drawn = "".join(seg.text for seg in editor.render_line(y))[gutter:].rstrip()
            assert drawn == editor.document.get_line(y).rstrip(), f"line {y}"


@pytest.mark.parametrize("target", ["top", "middle", "bottom"])
async def test_syntax_highlighting_follows_the_view_through_a_long_policy(tmp_path, target):
    app = make_app(tmp_path, _numbered_policy(400), [ImageItem("nginx:1.25")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        editor = app.editor
        lines = editor.text.split("\n")
        index = {"top": 3, "middle": lines.index("  - image: registry200.example.com/*"), "bottom": lines.index("  - image: '*'")}[target]
        editor.move_cursor((index, 0), center=True)
        await pilot.pause()
        scrolled = _styles_of(editor, index)  # scrolled there before any edit
        # Type an edit there: the highlights are rebuilt around the view, not at the top.
        editor.insert("  ", (index + 1, 0))
        editor.replace("", (index + 1, 0), (index + 1, 2))
        await settle(app, pilot)
        drawn = _styles_of(editor, index)
        first = _styles_of(editor, 3) if target == "top" else None
        key_colour = next(colour for text, colour in drawn if text.strip() == "image")
        value_colour = next(colour for text, colour in drawn if "registry" in text or text.strip() == "'*'")
        assert key_colour is not None and key_colour != value_colour  # highlighted, key unlike value
        assert [c for _, c in scrolled] == [c for _, c in drawn]
        if first is not None:
            assert [c for _, c in drawn] == [c for _, c in first]
        # Scrolling back to the top finds it highlighted the same way as at the start.
        editor.scroll_to(0, 0, animate=False)
        await pilot.pause()
        top = _styles_of(editor, 3)
        assert next(colour for text, colour in top if text.strip() == "image") == key_colour


# -- detail pane ----------------------------------------------------------------------------


def _numbered_policy(rules: int) -> str:
    """`rules` deny rules registryN.example.com/* and a catch-all skip as the last rule."""
    lines = ["apiVersion: v1alpha1", "kind: ImageVerificationConfig", "rules:"]
    for n in range(rules - 1):
        lines += [f"  - image: registry{n}.example.com/*", "    deny: true"]
    lines += ["  - image: '*'", "    skip: true"]
    return "\n".join(lines) + "\n"


# (rules in the policy, the image's registry number, lines the folded pane shows for the rules)
FOLDING = [
    # Rules after the deciding one read as not tried, under one heading, each on one line.
    (10, 0, ["0000 match registry0.example.com/*", "not tried (rule 0000 decided first)", "0001–0009 9 rules  e shows each"]),
    (10, 3, ["0000 no    registry0.example.com/*", "0002 no    registry2.example.com/*", "0003 match registry3.example.com/*",
             "not tried (rule 0003 decided first)", "0004–0009 6 rules  e shows each"]),
    (10, 5, ["0000–0004 no    5 rules  e shows each", "  none of these patterns matches 'registry5.example.com/app'",
             "0005 match registry5.example.com/*", "0006–0009 4 rules  e shows each"]),
    (10, 6, ["0000–0005 no    6 rules  e shows each", "0006 match registry6.example.com/*",
             "not tried (rule 0006 decided first)", "0007 registry7.example.com/*", "0009 *"]),
    (10, 99, ["0000–0008 no    9 rules  e shows each", "0009 match *"]),
    (4, 1,
     ["0000 no    registry0.example.com/*", "0001 match registry1.example.com/*", "0002 registry2.example.com/*", "0003 *"]),
]


@pytest.mark.parametrize("rules,registry,expected", FOLDING)
async def test_detail_pane_folds_long_runs_and_e_shows_each_rule(tmp_path, rules, registry, expected):
    image = f"registry{registry}.example.com/app:v1"
    app = make_app(tmp_path, _numbered_policy(rules), [ImageItem(image)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        pane = app.query_one(DetailPane)
        folded = pane.plain.splitlines()
        for line in expected:
            assert line in folded
        # `e` in the table: every rule on its own lines; `e` again folds them back.
        await pilot.press("f3", "e")
        unfolded = pane.plain.splitlines()
        assert [line[:4] for line in unfolded if line[4:5] == " " and line[:4].isdigit()] == [f"{n:04d}" for n in range(rules)]
        assert not any("e shows each" in line for line in unfolded)
        await pilot.press("e")
        assert pane.plain.splitlines() == folded
        # The copyable text always lists every rule.
        copied = app.details_for(image).plain
        assert all(f"{n:04d} " in copied for n in range(rules))


async def test_detail_pane_is_not_rebuilt_by_edits_that_leave_its_image_alone(tmp_path):
    app = make_app(tmp_path, _numbered_policy(10), [ImageItem("registry3.example.com/app:v1"), ImageItem("nginx:1.25")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        pane = app.query_one(DetailPane)
        shown, updates = pane.plain, pane.updates
        # A comment, then the last rule (which decides nginx only): the selected image is
        # decided by rule 0003 before and after.
        lines = app.editor.text.split("\n")
        app.editor.insert("# a comment\n", (len(lines) - 1, 0))
        await settle(app, pilot)
        app.editor.replace("deny: true", (app.editor.text.split("\n").index("  - image: '*'") + 1, 4),
                           (app.editor.text.split("\n").index("  - image: '*'") + 1, 14))
        await settle(app, pilot)
        assert table_rows(app)["nginx:1.25"][:3] == ("0009", "deny", "denied")
        assert (pane.plain, pane.updates) == (shown, updates)
        # An edit to the rule that decides it does reach the pane.
        row = app.editor.text.split("\n").index("  - image: registry3.example.com/*") + 1
        app.editor.replace("skip: true", (row, 4), (row, 14))
        await settle(app, pilot)
        assert pane.updates == updates + 1
        assert "decision  skip (rule 0003)" in pane.plain


def _screen_rows(app) -> list[str]:
    """The table's lines as drawn (header first), text only."""
    table = app.table
    return ["".join(segment.text for segment in table.render_line(y)).rstrip() for y in range(table.size.height)]


async def test_table_draws_an_edited_row_and_keeps_the_others(tmp_path):
    images = [ImageItem(f"registry{n}.example.com/app:v1") for n in (0, 1, 2, 9)]
    app = make_app(tmp_path, _numbered_policy(4), images)
    # 120 columns: the table has room for whole image names beside the match subject.
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        before = _screen_rows(app)
        assert [line.split()[:4] for line in before[1:5]] == [
            ["registry0.example.com/app:v1", "0000", "deny", "denied"],
            ["registry1.example.com/app:v1", "0001", "deny", "denied"],
            ["registry2.example.com/app:v1", "0002", "deny", "denied"],
            ["registry9.example.com/app:v1", "0003", "skip", "skipped"],
        ]
        row = app.editor.text.split("\n").index("  - image: registry1.example.com/*") + 1
        app.editor.replace("skip: true", (row, 4), (row, 14))
        await settle(app, pilot)
        after = _screen_rows(app)
        assert after[2].split()[:4] == ["registry1.example.com/app:v1", "0001", "skip", "skipped"]
        assert [line for n, line in enumerate(after) if n != 2] == [line for n, line in enumerate(before) if n != 2]
        # The cursor row is drawn highlighted, before and after moving it.
        await pilot.press("f3", "down")
        await pilot.pause()
        cursor_style = app.table.get_component_rich_style("image-table--cursor")
        highlighted = [y for y in range(1, 5) if any(s.style and s.style.bgcolor == cursor_style.bgcolor for s in app.table.render_line(y))]
        assert highlighted == [2]


async def test_outline_draws_an_edited_rule_and_keeps_the_others(tmp_path):
    app = make_app(tmp_path, _numbered_policy(4), [ImageItem("nginx:1.25")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        outline = app.query_one("#outline")

        def drawn() -> list[str]:
            return ["".join(s.text for s in outline.render_line(y)).strip() for y in range(4)]

        before = drawn()
        assert before == ["0000 deny   registry0.example.com/*", "0001 deny   registry1.example.com/*",
                          "0002 deny   registry2.example.com/*", "0003 skip   *"]
        row = app.editor.text.split("\n").index("  - image: registry1.example.com/*")
        app.editor.replace("skip: true", (row + 1, 4), (row + 1, 14))
        await settle(app, pilot)
        assert drawn() == [before[0], "0001 skip   registry1.example.com/*", *before[2:]]
        # A pattern too long for one line: the outline lays its lines out again.
        long = "registry1.example.com/" + "x" * 120 + "/*"
        app.editor.replace(long, (row, 11), (row, len("  - image: registry1.example.com/*")))
        await settle(app, pilot)
        assert outline._heights[1] > 1
        lines = ["".join(s.text for s in outline.render_line(y)).strip() for y in range(outline.size.height)]
        assert any(line.startswith("0001 skip") for line in lines)
        assert sum(line.count("x") for line in lines) > 40  # the long pattern is drawn on its lines


def test_policy_editor_uses_only_public_text_area_apis():
    """The editor styles lines through get_line() and redraws through notify_style_update():
    it overrides no private TextArea method and reads no private attribute."""
    import inspect
    import re

    from pullguard.tui.widgets import editor

    source = inspect.getsource(editor)
    from textual.widgets import TextArea

    overridden = [name for name, value in vars(editor.PolicyEditor).items()
                  if callable(value) and name.startswith("_") and not name.startswith("__") and hasattr(TextArea, name)]
    assert overridden == []
    used = set(re.findall(r"self\.(_[a-z]\w*)", source))
    assert not {name for name in used if hasattr(TextArea, name)}, "a private TextArea attribute is used"


# -- images ---------------------------------------------------------------------------------


async def test_add_and_remove_an_image(tmp_path):
    app = make_app(tmp_path, images=[])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3", "a")
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "ghcr.io/siderolabs/installer:v1.10.0")
        await pilot.press("enter")
        await settle(app, pilot)
        assert table_rows(app)["ghcr.io/siderolabs/installer:v1.10.0"][:3] == ("0000", "verify", "unverified")
        assert "rules tried, in order" in app.query_one(DetailPane).plain
        await pilot.press("a")
        await type_text(pilot, "quay.io/org/app:v2")
        await pilot.press("enter")
        await settle(app, pilot)
        assert list(table_rows(app)) == ["ghcr.io/siderolabs/installer:v1.10.0", "quay.io/org/app:v2"]
        assert app.table.selected_image() == "quay.io/org/app:v2"
        await pilot.press("delete")
        await settle(app, pilot)
        assert list(table_rows(app)) == ["ghcr.io/siderolabs/installer:v1.10.0"]
        assert app.session.images == ["ghcr.io/siderolabs/installer:v1.10.0"]


def _talosctl(rows: list[tuple[str, str, str]]) -> str:
    """`talosctl image ls` as Go's tabwriter aligns it (NODE IMAGE DIGEST SIZE LABELS CREATED)."""
    table = [("NODE", "IMAGE", "DIGEST", "SIZE", "LABELS", "CREATED")]
    table += [(node, image, "sha256:" + "ab" * 32, "1.2 MB", labels, "2026-04-09T07:23:29Z") for node, image, labels in rows]
    widths = [max(len(r[i]) for r in table) + 3 for i in range(6)]
    return "".join("".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in table)


KUBECTL = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
    {"kind": "Pod", "metadata": {"namespace": "kube-system", "name": "etcd-0"},
     "spec": {"initContainers": [{"name": "init", "image": "busybox:1.36"}],
              "containers": [{"name": "app", "image": "nginx:1.25"}]}},
]})
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/org/web:v2
"""

LISTS = [
    # (file name, content, expected images in order)
    ("pods.json", KUBECTL, ["busybox:1.36", "nginx:1.25"]),
    ("deploy.yaml", DEPLOYMENT, ["ghcr.io/org/web:v2"]),
    ("images.txt", "# cluster images\nnginx:1.25\n\nghcr.io/siderolabs/kubelet:v1.33.0  # kubelet\n",
     ["nginx:1.25", "ghcr.io/siderolabs/kubelet:v1.33.0"]),
    ("one.txt", "registry.k8s.io/pause:3.10\n", ["registry.k8s.io/pause:3.10"]),
]


@pytest.mark.parametrize("name,content,expected", LISTS + [
    ("talosctl.txt", _talosctl([("10.5.0.2", "ghcr.io/siderolabs/kubelet:v1.33.0", "talos.dev/verified=verified via bundle"),
                                ("10.5.0.2", "nginx:1.25", "io.cri-containerd.image=managed")]),
     ["ghcr.io/siderolabs/kubelet:v1.33.0", "nginx:1.25"]),
])
async def test_ctrl_l_loads_an_image_list(tmp_path, name, content, expected):
    (tmp_path / name).write_text(content)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, str(tmp_path / name))
        await pilot.press("enter")
        await settle(app, pilot)
        assert list(table_rows(app)) == expected


async def test_talosctl_node_label_is_shown_next_to_the_verdict(tmp_path):
    listing = _talosctl([("10.5.0.2", "ghcr.io/siderolabs/kubelet:v1.33.0", "talos.dev/verified=verified via bundle"),
                         ("10.5.0.3", "nginx:1.25", "io.cri-containerd.image=managed")])
    (tmp_path / "ls.txt").write_text(listing)
    app = make_app(tmp_path, images=[])
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.load_images(str(tmp_path / "ls.txt"))
        await settle(app, pilot)
        rows = table_rows(app)
        assert rows["ghcr.io/siderolabs/kubelet:v1.33.0"][2:] == ("unverified", "ghcr.io/siderolabs/kubelet", "verified")
        assert rows["nginx:1.25"][2:] == ("skipped", "index.docker.io/library/nginx", "unverified")
        assert "verified on 10.5.0.2: verified via bundle" in app.query_one(DetailPane).plain


@pytest.mark.parametrize("name,content,where", [
    ("bad.json", '{"kind": "List", "items": [', "bad.json:"),
    ("nope.txt", None, "nope.txt"),
    ("latin1.txt", b"nginx:1.25\ncaf\xe9:1\n", "latin1.txt:2:4: not UTF-8 text (byte 0xe9)"),
])
async def test_an_unreadable_list_shows_a_copyable_error(tmp_path, name, content, where):
    if isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        (tmp_path / name).write_text(content)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert not app.load_images(str(tmp_path / name))
        await pilot.pause()
        assert isinstance(app.screen, TextModal)
        assert where in app.screen.text
        assert list(table_rows(app)) == [item.image for item in IMAGES]


@pytest.mark.parametrize("presses,shown", [
    # f visits only the outcomes some image has (here skipped and unverified), then all again.
    (1, ["nginx:1.25"]),  # skipped
    (2, ["ghcr.io/siderolabs/kubelet:v1.33.0"]),  # unverified
    (3, list(i.image for i in IMAGES)),
])
async def test_filter_by_outcome(tmp_path, presses, shown):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3", *["f"] * presses)
        await pilot.pause()
        assert list(table_rows(app)) == shown


# -- files ------------------------------------------------------------------------------------


async def test_save_writes_the_editor_text_atomically_and_keeps_the_mode(tmp_path):
    app = make_app(tmp_path)
    path = Path(app.session.policy_path)
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.editor.move_cursor((9, 14))
        await type_text(pilot, "  # until the mirror is signed")
        assert app.dirty
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not app.dirty
    saved = path.read_text()
    assert saved == POLICY.replace("skip: true\n", "skip: true  # until the mirror is signed\n")
    # Comments, quoting and key order are the editor's text, untouched.
    assert "# Production image policy: keep this comment." in saved
    assert "\"ghcr.io/siderolabs/*\"   # Sidero's CI signs these" in saved
    assert "subject: 'ci@example.com'" in saved
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.yaml"]  # no temp file left


async def test_a_failed_save_leaves_the_file_alone_and_says_why(tmp_path):
    app = make_app(tmp_path)
    path = Path(app.session.policy_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await type_text(pilot, "x")
        assert not app.save(str(tmp_path / "missing-dir" / "policy.yaml"))
        await pilot.pause()
        assert isinstance(app.screen, TextModal)
        assert "missing-dir" in app.screen.text
        assert app.dirty
    assert path.read_text() == POLICY


async def test_ctrl_o_opens_another_policy_after_asking_about_unsaved_edits(tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(POLICY.replace("skip: true", "deny: true"))
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await type_text(pilot, "# edit\n")
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, str(other))
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.session.policy_path == str(other)
        assert app.editor.text == other.read_text()
        assert not app.dirty
        assert table_rows(app)["nginx:1.25"][:3] == ("0001", "deny", "denied")


@pytest.mark.parametrize("edit,answers,exits", [
    (False, [], True),  # nothing unsaved: quits at once
    (True, ["n"], False),  # unsaved, "no": stays
    (True, ["escape"], False),
    (True, ["y"], True),  # unsaved, "yes": quits
])
async def test_quit_asks_only_with_unsaved_edits(tmp_path, edit, answers, exits):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        if edit:
            await type_text(pilot, "#")
        await pilot.press("ctrl+q")
        await pilot.pause()
        if edit:
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press(*answers)
            await pilot.pause()
        assert app._exit is exits or (exits and not app.is_running)
        if not exits:
            assert not isinstance(app.screen, ConfirmScreen)


# -- help, bindings, palette ------------------------------------------------------------------


async def test_help_screen_lists_every_key(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        keys = {key for key, _, _ in app.screen.rows}
        for binding in [*PullguardApp.BINDINGS, *ImageTable.BINDINGS, *DetailPane.BINDINGS]:
            assert binding.key in keys
        for required in ("ctrl+s", "ctrl+o", "ctrl+l", "a", "f5", "enter", "ctrl+q", "delete", "escape", "ctrl+p"):
            assert required in keys
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def _all_bindings():
    from pullguard.tui.widgets import modals

    owners = [PullguardApp, ImageTable, DetailPane, modals.HelpScreen, modals.ConfirmScreen, modals.TextModal, modals.PromptScreen]
    return [(owner.__name__, b) for owner in owners for b in owner.BINDINGS]


@pytest.mark.parametrize("owner,binding", _all_bindings(), ids=lambda v: getattr(v, "key", v))
def test_every_binding_has_an_id_and_a_tooltip(owner, binding: Binding):
    assert binding.id, f"{owner} {binding.key} has no id"
    assert binding.tooltip, f"{owner} {binding.key} has no tooltip"


def test_binding_ids_are_unique():
    ids = [b.id for _, b in _all_bindings()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name,action,help_text", PALETTE_COMMANDS)
def test_every_palette_command_names_a_real_action(name, action, help_text):
    method = action.split("(")[0]
    assert callable(getattr(PullguardApp, f"action_{method}", None)), action


async def test_palette_finds_actions_by_name(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        provider = PullguardCommands(app.screen)
        hits = [hit.text async for hit in provider.search("verify")]
        assert {"Verify all images", "Verify selected image"} <= set(hits)
        assert "Cancel verification" in [hit.text async for hit in provider.search("cancel")]
        discovered = [hit.text async for hit in provider.discover()]
        assert discovered == [name for name, _, _ in PALETTE_COMMANDS]


async def test_palette_runs_help(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await type_text(pilot, "Help")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_pane_is_visible(tmp_path, size):
    """At 120 every pane at once; below 100 columns on its page (f2 policy, f3 images)."""
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        pages = {"f2": ("#editor", "#outline", "#problems"), "f3": ("#images", "#detail")}
        for key, selectors in pages.items():
            await pilot.press(key)
            await pilot.pause()
            for selector in (*selectors, "#status-text"):
                region = app.query_one(selector).region
                assert region.width >= 20 and region.height >= 1, (selector, region)
        # The verdict columns fit without scrolling.
        table = app.table
        span = table.column_span("outcome")
        assert span is not None and span[1] <= table.scrollable_content_region.width


async def test_the_table_keeps_textual_visible_and_filters_with_its_own_name(tmp_path):
    """DOMNode.visible is a property: a method of that name broke `table.visible = False`."""
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.table
        assert table.visible is True
        table.visible = False
        await pilot.pause()
        assert table.visible is False and table.styles.visibility == "hidden"
        table.visible = True
        table.set_filter("skipped")
        assert table.images == [item.image for item in IMAGES]  # every row known,
        assert table.row_count == 1  # one shown


# -- first frame imports ------------------------------------------------------------------------


def test_first_frame_does_not_import_the_verification_stack(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    code = (
        "import sys\n"
        "from pullguard.tui.app import PullguardApp\nfrom pullguard.tui.imagelist import ImageItem\n"
        f"app = PullguardApp({str(policy)!r}, None, [ImageItem('nginx:1.25')], exit_after_first_frame=True)\n"
        "app.run(headless=True, size=(80, 24))\n"
        "assert app.first_frame_rows == 1, app.first_frame_rows\n"
        "heavy = ('sigstore', 'httpx', 'cryptography.x509')\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""


# -- compare with the saved version -------------------------------------------------------------

COMPARE_CASES = [
    # (0-based row, column range to retype, typed text, listed under, image listed, counts, unchanged)
    (9, (4, 8), "deny", "newly denied (1):", "nginx:1.25", {"newly-denied": 1}, 1),
    (4, (12, 32), "ghcr.io/other/*", "newly unverified (admitted without verification) (1):",
     "ghcr.io/siderolabs/kubelet:v1.33.0", {"newly-unverified": 1}, 1),
    (None, None, "", None, None, {}, 2),  # no edits: nothing changes
]


@pytest.mark.parametrize("row,columns,typed,heading,image,counts,unchanged", COMPARE_CASES)
async def test_compare_with_saved_version_lists_what_the_edit_changes(
    tmp_path, row, columns, typed, heading, image, counts, unchanged
):
    from textual.widgets.text_area import Selection

    from pullguard.tui.widgets.compare import CompareScreen

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        if row is not None:
            app.editor.selection = Selection((row, columns[0]), (row, columns[1]))
            await type_text(pilot, typed)
            await settle(app, pilot)
            assert app.dirty
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert isinstance(app.screen, CompareScreen)
        result = app.screen.result
        assert {kind: n for kind, n in result.counts.items() if n} == counts
        assert result.unchanged == unchanged
        text = app.screen.text
        if heading is None:
            assert result.changes == []
            assert text.strip() == f"0 changed, {unchanged} unchanged"
        else:
            section = text.split(heading, 1)[1].split("\n\n", 1)[0]
            assert f"  {image}: " in section
            assert text.rstrip().endswith(f"{unchanged} unchanged")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        assert app.editor.text != POLICY if row is not None else app.editor.text == POLICY


async def test_compare_refuses_an_edited_policy_with_errors(tmp_path):
    from pullguard.tui.widgets.compare import CompareScreen

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.editor.move_cursor((9, 0))
        await pilot.press("end")
        await type_text(pilot, "\n    deny: true")
        await settle(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert not isinstance(app.screen, CompareScreen)
        assert any("fix them before comparing" in str(n.message) for n in app._notifications)
