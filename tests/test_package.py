"""The package as the index would ship it: the wheel, installed alone, runs the README's first snippet."""

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def first_snippet() -> str:
    match = re.search(r"```python\n(.*?)```", README, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_readme_opens_with_the_install_line_and_links_absolutely():
    first_block = README.split("```")[1]
    assert first_block.startswith("sh\npip install ticketflow")
    relative = re.findall(r"\]\((?!https?://|#)([^)]+)\)", README)
    assert relative == []  # the index shows the README away from the repository


def test_the_license_is_the_full_mit_text_with_a_copyright_line():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert re.search(r"^Copyright \(c\) \d{4} \S", text, re.MULTILINE)
    assert "Permission is hereby granted, free of charge" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the project's files")
def test_the_wheel_installed_alone_runs_the_readmes_first_snippet(tmp_path: Path):
    # Build the wheel from the tracked files only (as a clean clone would), then install it into an
    # empty virtual environment: no source tree, no dev dependencies, only the core ones (pip's cache).
    source = tmp_path / "source"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("ticketflow-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(  # noqa: S603
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        check=True,
        timeout=600,
    )
    work = tmp_path / "work"
    work.mkdir()
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    ran = subprocess.run(  # noqa: S603
        [str(python), "-c", first_snippet()], cwd=work, capture_output=True, text=True, timeout=120, env=clean_env
    )
    assert ran.returncode == 0, ran.stderr
    assert "stateDiagram-v2" in ran.stdout
    assert "['open', 'take', 'ask', 'requester_replied', 'solve']" in ran.stdout
    # and the installed command writes the example lifecycle the README loads next
    init = subprocess.run(  # noqa: S603
        [str(env_dir / "bin" / "ticketflow"), "init"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env,
    )
    assert init.returncode == 0, init.stderr
    assert (work / "custom_lifecycle.toml").read_text(encoding="utf-8") == (
        ROOT / "examples" / "custom_lifecycle.toml"
    ).read_text(encoding="utf-8")
    imported = subprocess.run(  # noqa: S603
        [str(python), "-c", "import ticketflow, sys; print(ticketflow.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        env=clean_env,
    )
    assert str(env_dir) in imported.stdout  # the wheel's copy, not the source tree
    # the test kit without its extra says which extra to install
    kit = subprocess.run(  # noqa: S603
        [str(python), "-c", "import ticketflow.testing"], cwd=work, capture_output=True, text=True, env=clean_env
    )
    assert kit.returncode == 1
    assert kit.stderr.strip().splitlines()[-1] == (
        "ImportError: ticketflow.testing needs the testing extra (no module named 'hypothesis'): "
        "pip install 'ticketflow[testing]'"
    )
