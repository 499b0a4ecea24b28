"""Every example under examples/ runs, and does what it says."""

import runpy

import pytest

from .conftest import EXAMPLES


def test_custom_lifecycle_example_runs(capsys: pytest.CaptureFixture[str]):
    namespace = runpy.run_path(str(EXAMPLES / "custom_lifecycle.py"))
    ticket = namespace["main"]()
    out = capsys.readouterr().out
    assert ticket.state == "closed"
    assert ticket.version == 7
    assert "refused: " in out
    assert "(category)" in out
    assert "is immutable" in out
    assert out.count("stateDiagram-v2") == 1


def test_extend_builtin_example_runs(capsys: pytest.CaptureFixture[str]):
    namespace = runpy.run_path(str(EXAMPLES / "extend_builtin.py"))
    ours = namespace["main"]()
    out = capsys.readouterr().out
    assert ours.id == "our_helpcenter"
    assert "take" not in ours.triggers
    assert "escalated" in ours.states
    assert "solved tickets close after 3 days" in out
    assert "refused: " in out
    assert "escalated to tax-team: escalated" in out


def test_sla_example_runs_and_its_output_is_the_one_in_the_docs(capsys: pytest.CaptureFixture[str]):
    from .conftest import ROOT

    runpy.run_path(str(EXAMPLES / "sla_clocks.py"))["main"]()
    out = capsys.readouterr().out
    assert "due Mon 09 Mar 10:00  running  warned [0.5, 0.75]" in out
    assert out.strip() in (ROOT / "docs" / "sla.md").read_text()
