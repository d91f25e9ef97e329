"""Writing a policy in the dashboard (issue 15, SPEC §7 "Daily use"): the editor's keys, quick
fixes, moving rules, dialogs, starters, the trusted root and the ctrl+e explain box, at the
three terminal sizes people use (80x24 over SSH, 120x36, 200x50) and in both dialects."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.containers import Vertical

from pullguard.engine.policy import load_policy
from pullguard.tui.app import PullguardApp
from pullguard.tui.commands.edit import STARTERS
from pullguard.tui.editing import relocate_oci_paths
from pullguard.tui.imagelist import ImageItem
from pullguard.tui.rulemove import move_rule
from pullguard.tui.widgets.editor import new_line_indent
from pullguard.tui.widgets.explain import ExplainScreen
from pullguard.tui.widgets.find import FindScreen
from pullguard.tui.widgets.modals import ChoiceScreen, ConfirmScreen, Dialog, PromptScreen

SIZES = [(80, 24), (120, 36), (200, 50)]
SAMPLES = Path(__file__).resolve().parents[1] / "samples"

TALOS = """\
# Production image policy.
apiVersion: v1alpha1
kind: ImageVerificationConfig
rules:
  # Sidero's CI signs these
  - image: "ghcr.io/siderolabs/*"
    keyless:
      issuer: https://accounts.google.com
      subject: 'ci@example.com'
  - image: 'quay.io/org/*'
    deny: true
  - image: '*'
    deny: true
"""

KYVERNO = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify
spec:
  rules:
    # the first rule
    - name: first
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences:
            - "ghcr.io/a/*"
          attestors:
            - entries:
                - keyless:
                    issuer: https://token.actions.githubusercontent.com
                    subject: https://github.com/a/b/.github/workflows/r.yaml@refs/tags/v1
                    rekor:
                      url: https://rekor.sigstore.dev
          failureAction: Enforce
    - name: second
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences:
            - "ghcr.io/b/*"
          attestors:
            - entries:
                - keyless:
                    issuer: https://token.actions.githubusercontent.com
                    subject: https://github.com/b/c/.github/workflows/r.yaml@refs/tags/v1
                    rekor:
                      url: https://rekor.sigstore.dev
          failureAction: Enforce
"""

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def make_app(tmp_path: Path, text: str = TALOS, images=(), **kwargs) -> PullguardApp:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return PullguardApp(str(path), None, [ImageItem(i) for i in images], validate_delay=0.0, **kwargs)


async def settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def line(app, row: int) -> str:
    return app.editor.document.get_line(row)


# -- Enter keeps the indentation ---------------------------------------------------------------


@pytest.mark.parametrize("before,indent", [
    ("rules:", "  "),
    ("  - image: 'a.io/*'", "    "),
    ("    keyless:", "      "),
    ("      issuer: https://i", "      "),
    ("  - ", "    "),
    ("    ", "    "),
    ("", ""),
    ("  # a comment:", "  "),
    ("      certificate: |", "        "),
    ("          - resources:", "              "),
    ('            - "ghcr.io/a/*"', "            "),  # a plain item: the next item
    ("    - - x: 1", "        "),
])
def test_new_line_indent_as_a_yaml_editor(before, indent):
    assert new_line_indent(before) == indent


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("text,row,typed,expected_line", [
    # Talos: a new key of the rule lands under the rule, so no "unknown key 'deny'" at column 1
    (TALOS, 10, "skip: false", "    skip: false"),
    # after a key with no value: one level deeper
    (TALOS, 6, "subjectRegex: x", "      subjectRegex: x"),
    # Kyverno: a new image reference continues the list
    (KYVERNO, 14, '- "ghcr.io/c/*"', '            - "ghcr.io/c/*"'),
])
async def test_enter_keeps_the_indentation(tmp_path, size, text, row, typed, expected_line):
    app = make_app(tmp_path, text)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        app.editor.move_cursor((row, len(line(app, row))))
        await pilot.press("enter", *[{" ": "space"}.get(ch, ch) for ch in typed])
        await settle(app, pilot)
        assert line(app, row + 1) == expected_line
        assert not [d for d in app.session.analysis.diagnostics if d.code in ("unknown-key", "yaml-syntax")]


# -- ends, select all, find, wrapping -----------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_ctrl_home_end_and_select_all(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+end")
        last = app.editor.document.line_count - 1
        assert app.editor.cursor_location == (last, len(line(app, last)))
        await pilot.press("ctrl+home")
        assert app.editor.cursor_location == (0, 0)
        await pilot.press("ctrl+a")
        assert app.editor.selected_text == TALOS
        await pilot.press("f1")
        keys = {key for key, _, where in app.screen.rows if where == "editor"}
        assert {"ctrl+a,f7", "ctrl+home", "ctrl+end", "ctrl+f"} <= keys


@pytest.mark.parametrize("size", SIZES)
async def test_ctrl_f_finds_next_and_previous(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+f")
        assert isinstance(app.screen, FindScreen)
        await pilot.press(*"DENY")  # any case
        assert app.editor.selection.start == (10, 4) and app.editor.selected_text == "deny"
        await pilot.press("enter")
        assert app.editor.selection.start == (12, 4)
        await pilot.press("enter")  # wraps around to the first
        assert app.editor.selection.start == (10, 4)
        await pilot.press("up")
        assert app.editor.selection.start == (12, 4)
        await pilot.press("escape")
        assert not isinstance(app.screen, FindScreen) and app.editor.has_focus
        await pilot.press("ctrl+g")
        assert app.editor.selection.start == (10, 4)
        await pilot.press("alt+g")
        assert app.editor.selection.start == (12, 4)


@pytest.mark.parametrize("size", SIZES)
async def test_a_long_line_wraps_instead_of_scrolling_the_editor_sideways(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        app.editor.move_cursor((8, len(line(app, 8)) - 1))
        await pilot.press(*("x" * 250))
        await settle(app, pilot)
        assert app.editor.scroll_offset.x == 0 and app.editor.max_scroll_x == 0
        assert app.editor.wrapped_document.height > app.editor.document.line_count


# -- moving rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("text,line_no,step,expected_patterns", [
    (TALOS, 6, 1, ["quay.io/org/*", "ghcr.io/siderolabs/*", "*"]),
    (TALOS, 10, -1, ["quay.io/org/*", "ghcr.io/siderolabs/*", "*"]),
    (TALOS, 12, -1, ["ghcr.io/siderolabs/*", "*", "quay.io/org/*"]),
    (KYVERNO, 24, -1, ["ghcr.io/b/*", "ghcr.io/a/*"]),
    (KYVERNO, 14, 1, ["ghcr.io/b/*", "ghcr.io/a/*"]),  # an entry alone in its rule: the rule moves
])
def test_move_rule_rewrites_the_text_keeping_comments(text, line_no, step, expected_patterns):
    moved, new_line = move_rule(text, line_no, step)
    loaded = load_policy(moved, "p.yaml")
    assert [item.pattern for item in loaded.policy.outline()] == expected_patterns
    assert sorted(moved.splitlines()) == sorted(text.splitlines())  # every line kept, comments too
    assert moved.splitlines()[new_line - 1].lstrip().startswith("- ")
    if "# Sidero's CI signs these" in text and line_no == 6:
        lines = moved.splitlines()
        assert lines[lines.index("  # Sidero's CI signs these") + 1] == '  - image: "ghcr.io/siderolabs/*"'
    assert move_rule(moved, new_line, -step)[0] == text


@pytest.mark.parametrize("text,line_no,step", [(TALOS, 6, -1), (TALOS, 12, 1), ("rules: [\n", 1, 1)])
def test_move_rule_at_the_end_of_its_list_does_nothing(text, line_no, step):
    assert move_rule(text, line_no, step) is None


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("text,first", [(TALOS, "ghcr.io/siderolabs/*"), (KYVERNO, "ghcr.io/a/*")])
async def test_alt_down_on_the_outline_moves_the_rule(tmp_path, size, text, first):
    app = make_app(tmp_path, text)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        outline = app.query_one("#outline")
        outline.focus()
        outline.highlighted = 0
        await pilot.press("alt+down")
        await settle(app, pilot)
        patterns = [item.pattern for item in outline.items]
        assert patterns[1] == first and app.dirty
        assert outline.has_focus and outline.highlighted == 1  # it follows the rule: alt+down again moves it on
        app.editor.focus()
        await pilot.press("ctrl+z")
        await settle(app, pilot)
        assert app.editor.text == text


# -- quick fixes ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("text,row,column,code", [
    # a rule key at column 1 (typed before Enter kept the indentation): indent it under the rule
    (TALOS.replace("    deny: true\n  - image: '*'", "deny: true\n  - image: '*'", 1)
     .replace("  - image: '*'\n    deny: true\n", ""), 10, 0, "unknown-key"),
    # docker.io never matches: index.docker.io
    (TALOS.replace("'quay.io/org/*'", "docker.io/library/nginx"), 9, 12, "never-matches"),
    # bad indentation: the line is moved to its neighbours' column
    (TALOS.replace("      subject: 'ci@example.com'", "     subject: 'ci@example.com'"), 8, 5, "yaml-syntax"),
    (KYVERNO.replace("          attestors:\n            - entries:\n                - keyless:\n"
                     "                    issuer: https://token.actions.githubusercontent.com\n"
                     "                    subject: https://github.com/a/",
                     "          attestors:\n            - entries:\n                - keyless:\n"
                     "                    issuer: https://token.actions.githubusercontent.com\n"
                     "                   subject: https://github.com/a/", 1), 19, 19, "yaml-syntax"),
])
async def test_a_fix_is_applied_from_the_editor_with_ctrl_dot(tmp_path, size, text, row, column, code):
    app = make_app(tmp_path, text)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        assert any(d.code == code and d.edits for d in app.session.analysis.diagnostics), app.session.analysis.diagnostics
        app.editor.move_cursor((row, column))
        await pilot.press("ctrl+full_stop")
        await settle(app, pilot)
        assert not [d for d in app.session.analysis.diagnostics if d.code == code]
        assert app.session.analysis.errors == 0


@pytest.mark.parametrize("size", SIZES)
async def test_a_fix_is_applied_from_the_problems_list_with_alt_enter(tmp_path, size):
    text = TALOS.replace("'quay.io/org/*'", "docker.io/library/nginx")
    app = make_app(tmp_path, text)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        problems = app.query_one("#problems")
        problems.focus()
        problems.highlighted = next(i for i, d in enumerate(problems.diagnostics) if d.code == "never-matches")
        await pilot.press("alt+enter")
        await settle(app, pilot)
        assert "  - image: 'index.docker.io/library/nginx'" in app.editor.text
        assert not [d for d in app.session.analysis.diagnostics if d.code == "never-matches"]
        keys = {binding.key for binding in app.BINDINGS}
        assert "ctrl+full_stop,alt+enter,alt+q" in keys
        assert any(b.key == "ctrl+full_stop,alt+enter,alt+q" and b.show for b in app.BINDINGS)  # in the footer


async def test_a_fix_without_edits_is_shown_not_applied(tmp_path):
    text = TALOS.replace("subject: 'ci@example.com'", "subjectRegex: '(ci'")
    app = make_app(tmp_path, text)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.editor.move_cursor((8, 6))
        await pilot.press("ctrl+full_stop")
        assert app.editor.text == text
        assert any("not applied automatically: close the group" in str(n.message) for n in app._notifications)


# -- dialogs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("key", ["a", "ctrl+l", "ctrl+t", "ctrl+e", "f1", "ctrl+f"])
async def test_dialogs_are_centred(tmp_path, size, key):
    app = make_app(tmp_path, images=["nginx:1.25"])
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        if key == "a":
            app.table.focus()
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, Dialog)
        box = app.screen.query_one(Vertical).region
        width, height = size
        assert box.width < width and box.height < height
        assert abs((box.x + box.width / 2) - width / 2) <= 2
        if key != "ctrl+f":  # find sits at the top, over the editor's text
            assert abs((box.y + box.height / 2) - height / 2) <= 2


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("typed,refused", [
    ("ghcr.io/org/App:v1", "repository can only contain"),
    ("nginx@sha256:12", "sha256 needs 64 hex digits"),
    ("quay.io/org/app:v2", None),
])
async def test_add_refuses_a_reference_that_does_not_parse(tmp_path, size, typed, refused):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        app.table.focus()
        await pilot.press("a", *typed, "enter")
        await settle(app, pilot)
        if refused:
            assert isinstance(app.screen, PromptScreen)
            assert refused in str(app.screen.query_one("#prompt-problem").render())
            assert app.session.images == []
        else:
            assert app.session.images == [typed] and app.table.selected_image() == typed


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("answer,replaced", [("y", True), ("n", False)])
async def test_load_names_the_formats_and_asks_before_dropping_hand_added_images(tmp_path, size, answer, replaced):
    (tmp_path / "images.txt").write_text("registry.k8s.io/pause:3.10\n")
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        app.add_image("quay.io/org/app:v2")
        await settle(app, pilot)
        await pilot.press("ctrl+l")
        hint = " ".join(str(label.render()) for label in app.screen.query(".hint"))
        assert "kubectl get pods -o json" in hint and "talosctl image ls" in hint and "SPEC" not in hint
        await pilot.press(*str(tmp_path / "images.txt"), "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(answer)
        await settle(app, pilot)
        expected = ["registry.k8s.io/pause:3.10"] if replaced else ["quay.io/org/app:v2"]
        assert app.session.images == expected


async def test_load_completes_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cluster-images.txt").write_text("registry.k8s.io/pause:3.10\n")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+l", *"clu")
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert app.screen.query_one("#prompt-input").value == "cluster-images.txt"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.session.images == ["registry.k8s.io/pause:3.10"]


@pytest.mark.parametrize("size", SIZES)
async def test_quit_dialog_saves_and_quits(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+end", "#")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("s")
        await pilot.pause()
    assert (tmp_path / "policy.yaml").read_text() == TALOS + "#"


@pytest.mark.parametrize("text,counts", [
    (TALOS, None),
    (TALOS.replace("    deny: true\n  - image: '*'", "    deny: true\n    skip: true\n    sign: x\n  - image: '*'"),
     "(2 errors)"),
])
async def test_save_says_how_many_errors_the_saved_policy_has(tmp_path, text, counts):
    app = make_app(tmp_path, TALOS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.editor.load_text(text)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        said = [str(n.message) for n in app._notifications if str(n.message).startswith("saved")][-1]
        assert said == f"saved {tmp_path / 'policy.yaml'}" + (f" {counts}" if counts else "")


# -- a policy that does not exist yet: starters ---------------------------------------------------


@pytest.mark.parametrize("dialect", sorted(STARTERS))
def test_starters_trigger_no_diagnostic_of_their_own(dialect):
    loaded = load_policy(STARTERS[dialect], "new.yaml")
    assert loaded.dialect == dialect and loaded.diagnostics == []


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name,key,dialect", [("kyv.yaml", "k", "kyverno"), ("policy.yaml", "t", "talos")])
async def test_edit_on_a_missing_file_offers_a_starter_and_writes_nothing_until_saved(tmp_path, size, name, key, dialect):
    path = tmp_path / name
    app = PullguardApp(str(path), "", [], validate_delay=0.0, new_file=True)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press(key)
        await settle(app, pilot)
        assert app.editor.text == STARTERS[dialect] and app.session.analysis.loaded.dialect == dialect
        assert app.session.analysis.diagnostics == []
        assert not path.exists()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # unsaved: it asks
        await pilot.press("y")
        await pilot.pause()
    assert not path.exists()  # discarded: nothing left behind


def test_edit_command_does_not_create_the_file_and_refuses_an_unreadable_trusted_root(tmp_path, capsys):
    import argparse

    from pullguard.tui.commands import edit

    parser = argparse.ArgumentParser()
    edit.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "new.yaml"), "--trusted-root", str(tmp_path / "nope.json")])
    assert edit.run(args) == 2
    assert "cannot read trusted root" in capsys.readouterr().err and "nope.json" in capsys.readouterr().err + str(args)
    assert not (tmp_path / "new.yaml").exists()


# -- Save as: relative oci: paths; the trusted root in the TUI --------------------------------------


def test_relocate_oci_paths_names_the_same_layout_from_the_new_folder(tmp_path):
    text = ("# `oci:` endpoints are read relative to this file, e.g. oci:../registry\nendpoints:\n"
            "  - url: oci:../registry\n  - url: 'oci:./layout'  # local\n  - url: oci:/abs/layout\n  - oci:../m\n")
    moved = relocate_oci_paths(text, str(tmp_path / "a" / "talos"), str(tmp_path / "b"))
    assert moved == ("# `oci:` endpoints are read relative to this file, e.g. oci:../registry\nendpoints:\n"
                     "  - url: oci:../a/registry\n  - url: 'oci:../a/talos/layout'  # local\n  - url: oci:/abs/layout\n"
                     "  - oci:../a/m\n")


def test_relocate_leaves_the_samples_comments_alone():
    text = (SAMPLES / "talos" / "policy.yaml").read_text()
    moved = relocate_oci_paths(text, str(SAMPLES / "talos"), str(SAMPLES / "talos" / "deeper"))
    changed = [(a, b) for a, b in zip(text.splitlines(), moved.splitlines(), strict=True) if a != b]
    assert changed and all(a.strip().startswith("- url: oci:") and b.strip() == "- url: oci:../../registry" for a, b in changed)


@pytest.mark.parametrize("how", ["open", "save as"])
async def test_a_path_typed_with_a_tilde_is_saved_where_it_was_read(tmp_path, monkeypatch, how):
    """`~/mine.yaml` in the open or save-as dialog is the home folder's file, as in a shell: the
    edit is saved there (not into a folder named `~` under the working directory)."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    (home / "mine.yaml").write_text(TALOS)
    sample = how == "save as"
    app = make_app(tmp_path, sample=sample)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        if not sample:
            await pilot.press("ctrl+o")
            await pilot.pause()
            app.screen.query_one("#prompt-input").value = "~/mine.yaml"
            await pilot.press("enter")
            await settle(app, pilot)
        await pilot.press("ctrl+end", "#", "ctrl+s")
        await pilot.pause()
        if sample:
            app.screen.query_one("#prompt-input").value = "~/mine.yaml"
            await pilot.press("enter")
        await settle(app, pilot)
        assert app.session.policy_path == str(home / "mine.yaml")
    assert (home / "mine.yaml").read_text() == TALOS + "#"
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("answer,expected", [("r", "oci:../../registry"), ("k", "oci:../registry")])
async def test_save_as_offers_to_rewrite_relative_oci_paths(tmp_path, answer, expected):
    (tmp_path / "sample").mkdir()
    (tmp_path / "other" / "deep").mkdir(parents=True)
    text = "apiVersion: v1alpha1\nkind: RegistryMirrorConfig\nname: ghcr.io\nendpoints:\n  - url: oci:../registry\n"
    policy = tmp_path / "sample" / "policy.yaml"
    policy.write_text(text)
    app = PullguardApp(str(policy), None, [], validate_delay=0.0, sample=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        field = app.screen.query_one("#prompt-input")
        field.value = str(tmp_path / "other" / "deep" / "mine.yaml")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen)
        assert "oci:../registry" in str(app.screen.question)
        await pilot.press(answer)
        await settle(app, pilot)
    assert expected in (tmp_path / "other" / "deep" / "mine.yaml").read_text()


@pytest.mark.parametrize("size", SIZES)
async def test_ctrl_t_chooses_a_trusted_root_and_refuses_one_that_cannot_be_read(tmp_path, size):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        field = app.screen.query_one("#prompt-input")
        field.value = str(tmp_path / "nope.json")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        assert "cannot read trusted root" in str(app.screen.query_one("#prompt-problem").render())
        field.value = str(SAMPLES / "trusted_root.json")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, PromptScreen)
        assert app.session.verify_options["trusted_root"] == str(SAMPLES / "trusted_root.json")
        await pilot.press("f1")
        assert "ctrl+t" in {key for key, _, _ in app.screen.rows}


# -- ctrl+e: explain a pasted pull error ------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_ctrl_e_explains_a_pasted_error_and_selects_its_image(tmp_path, size):
    pasted = (SAMPLES / "troubleshooting" / "kubelet-billing.txt").read_text()
    policy = (SAMPLES / "talos" / "policy.yaml").read_text()
    app = make_app(tmp_path, policy, images=["nginx:1.25"])
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+e")  # from the editor too: ctrl+e is not "line end" there
        assert isinstance(app.screen, ExplainScreen)
        app.screen.query_one("#explain-paste").load_text(pasted)
        await pilot.press("ctrl+e")
        shown = str(app.screen.query_one("#explain-text").render())
        assert "ghcr.io/acme/billing:v3.0.1" in shown and "cause:" in shown and "fix:" in shown
        await pilot.press("ctrl+a")
        await settle(app, pilot)
        assert not isinstance(app.screen, ExplainScreen)
        assert app.session.images == ["nginx:1.25", "ghcr.io/acme/billing:v3.0.1"]
        assert app.table.selected_image() == "ghcr.io/acme/billing:v3.0.1"


async def test_ctrl_e_on_text_that_is_no_pull_error(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+e")
        app.screen.query_one("#explain-paste").load_text("hello world")
        await pilot.press("ctrl+e")
        assert "no pull error recognised" in str(app.screen.query_one("#explain-text").render())
        await pilot.press("ctrl+a")
        assert isinstance(app.screen, ExplainScreen)
        await pilot.press("escape")
        assert app.session.images == []


# -- key completion ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("text,row,typed,completed", [
    (TALOS, 10, "ke", "    keyless: "),  # a rule's keys
    (TALOS, 7, "sub", "      subject: "),  # keyless's keys
    (TALOS, 3, "", None),  # nothing typed: nothing suggested
    (KYVERNO, 22, "att", "          attestors: "),  # a verifyImages entry's keys
    (KYVERNO, 19, "rek", "                    rekor: "),  # keyless's keys, in Kyverno
])
async def test_the_editor_completes_the_keys_the_dialect_allows_at_the_cursor(tmp_path, size, text, row, typed, completed):
    app = make_app(tmp_path, text)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        app.editor.move_cursor((row, len(line(app, row))))
        await pilot.press("enter", *typed)
        await pilot.pause()
        if completed is None:
            assert app.editor.suggestion == ""
            return
        assert app.editor.suggestion == completed.strip()[len(typed):] + " "
        await pilot.press("right")
        assert line(app, row + 1) == completed


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
@pytest.mark.parametrize("key", ["ctrl+o", "ctrl+l"])  # priority keys: they fire over the palette
async def test_ctrl_p_over_a_dialog_opened_from_the_palette_does_not_crash(tmp_path, size, key):
    """ctrl+p, a priority key that opens a dialog over the palette, ctrl+p again: Textual no longer
    saw the palette and pushed a second one with the same id, and the app died (DuplicateIds).
    Found by random key presses on the dashboard."""
    from textual.command import CommandPalette

    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert sum(isinstance(s, CommandPalette) for s in app.screen_stack) == 1
        await pilot.press("escape", "escape")
        await settle(app, pilot)
        assert len(app.screen_stack) == 1
