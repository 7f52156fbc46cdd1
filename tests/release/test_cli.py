"""`python -m leviathan.release`: a refused step is one sentence on stderr and exit status 1."""

from __future__ import annotations

import pytest

from leviathan.release.__main__ import main


@pytest.mark.parametrize("argv, sentence", [
    (["notes", "no-such-chart", "0.1.0", "0.2.0"], "no-such-chart has no releases in releases/ledger.yaml"),
    (["notes", "vllm", "0.1.0", "0.1.0"], "TO (0.1.0) must be above FROM (0.1.0)"),
])
def test_a_refusal_is_a_sentence_not_a_traceback(argv, sentence, capsys):
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == sentence
    assert captured.out == ""


def test_check_passes_on_the_recorded_tree(capsys):
    assert main(["check"]) == 0, capsys.readouterr().out
