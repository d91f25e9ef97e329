"""Each validation an ImageValidatingPolicy tried, with its value: in verify's JSON
(`validations`, only for images an ImageValidatingPolicy verified) and as one section of the
TUI detail pane (the values the ivpol verdict computed; `error` for one that could not be
answered), escaped as everything from outside is."""

from __future__ import annotations

import json

import pytest
from rich.text import Text

from pullguard.tui.cli import main
from pullguard.tui.widgets.detail import result_lines
from tests.test_ivpol_manifest_resources import MIRROR
from tests.test_kyverno_ivpol_test_files import CHECK, SIGNED, UNSIGNED, _ivpol

TWO = f"- expression: \"{CHECK}\"\n  message: unsigned\n- expression: \"images.containers.all(i, i.startsWith('quay.io/'))\"\n"


@pytest.mark.parametrize("image, validations, values, outcome", [
    (SIGNED, TWO, [True, True], "verified"),
    (SIGNED, TWO.replace("quay.io/", "ghcr.io/"), [True, False], "failed"),
    (SIGNED, TWO.replace("\n  message: unsigned", "").replace(CHECK, "size(images.containers) == 2"), [False], "failed"),
    # the mirror has no bundle tag and the fallback to quay.io is refused: unanswered, not false
    (UNSIGNED, TWO, [None], "error"),
])
def test_verify_json_lists_each_validation_and_its_value(tmp_path, capsys, image, validations, values, outcome):
    (tmp_path / "p.yaml").write_text(_ivpol(conditions="", validations=validations))
    main(["verify", str(tmp_path / "p.yaml"), image, *MIRROR, "-o", "json"])
    [result] = json.loads(capsys.readouterr().out)["results"]
    assert result["outcome"] == outcome
    assert [v["value"] for v in result["validations"]] == values
    assert [v["index"] for v in result["validations"]] == list(range(len(values)))
    assert result["validations"][0]["policy"] == "ivpol-sample" and result["validations"][0]["line"] == 25


def test_other_dialects_have_no_validations_key(capsys):
    from tests.test_kyverno_test_files import SAMPLES

    main(["verify", str(SAMPLES / "kyverno" / "cluster-policy.yaml"), SIGNED, "--trusted-root",
          str(SAMPLES / "trusted_root.json"), "-o", "json"])
    [result] = json.loads(capsys.readouterr().out)["results"]
    assert "validations" not in result


@pytest.mark.parametrize("value, word", [(True, "true"), (False, "false"), (None, "error")])
def test_the_detail_pane_shows_each_validation(value, word):
    out = Text()
    result_lines(out, {"outcome": "failed", "message": "m", "validations": [
        {"policy": "p\x1b[31m", "index": 0, "expression": "size(images.containers) > 0", "line": 12, "value": value,
         "message": "why\x1b]0;title\x07" if value is not True else None}]})
    text = out.plain
    assert "validations\n" in text
    assert f"{word:<6}p" in text and "[0] line 12: size(images.containers) > 0" in text
    assert "\x1b" not in text and "\x07" not in text  # outside text is escaped
    assert ("why" in text) == (value is not True)
