"""Engines are plugins: the registry, `textlens engines`, and a separately packaged engine that
textlens finds through the `textlens.engines` entry point, exactly as it finds the built-ins."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from textlens.cli.main import app
from textlens.engines import registry
from textlens.errors import EngineError
from textlens.samples import render_text_image

REPO_ROOT = Path(__file__).parents[1]
ECHO_PACKAGE = Path(__file__).parent / "fixtures" / "echo_engine"
SCRIPT = Path(sys.executable).parent / "textlens"
ROW_KEYS = {"name", "origin", "version", "available", "detail"}


def engines_json(*args: str) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(app, [*args, "engines", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    rows = json.loads(result.stdout)["engines"]
    for row in rows:
        assert set(row) == ROW_KEYS
        assert isinstance(row["available"], bool) and isinstance(row["version"], str)
    return {row["name"]: row for row in rows}


def test_builtin_engines_are_the_entry_points_pyproject_declares() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["textlens.engines"] == registry.BUILTIN_ENGINES
    assert set(registry.BUILTIN_ENGINES) == {"tesseract", "rapidocr", "remote"}
    assert project["optional-dependencies"]["rapidocr"] == ["rapidocr_onnxruntime>=1.3"]


def test_engines_json_lists_builtins_and_setting_plugins() -> None:
    from importlib.metadata import version

    pytest.importorskip("rapidocr_onnxruntime")  # CI installs textlens[rapidocr]
    rows = engines_json("--set", "plugins=tests.plugins.engines:FailEngine")

    assert rows["tesseract"]["available"] is True
    assert rows["tesseract"]["origin"] == "built-in"
    assert rows["rapidocr"]["origin"] == "built-in"
    assert rows["rapidocr"]["available"] is True
    assert rows["rapidocr"]["version"] == version("rapidocr_onnxruntime")
    assert "chi_sim" in rows["rapidocr"]["detail"]
    assert rows["fail"] == {"name": "fail", "origin": "setting plugins", "version": "1.0",
                            "available": True, "detail": "ready"}


def test_engines_json_says_how_to_install_a_missing_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if rapidocr_onnxruntime were not installed: importing it raises ImportError.
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)

    rows = engines_json()

    assert rows["rapidocr"]["available"] is False
    assert rows["rapidocr"]["version"] == ""
    assert "pip install 'textlens[rapidocr]'" in rows["rapidocr"]["detail"]
    assert rows["tesseract"]["available"] is True
    with pytest.raises(EngineError, match=r"cannot run here: .*pip install 'textlens\[rapidocr\]'"):
        registry.create("rapidocr")


# --------------------------------------------------------------------------- third-party plugin


def install_package(source: Path, target: Path) -> str:
    """Install a pure-Python package as pip lays one out: its modules and a
    ``<name>-<version>.dist-info`` with ``METADATA`` and ``entry_points.txt``, made from its
    pyproject.toml. (pip itself would need network for build isolation, or setuptools and
    wheel in the test environment; ``importlib.metadata`` reads exactly these two files.)"""
    config = tomllib.loads((source / "pyproject.toml").read_text())
    project = config["project"]
    for module in config["tool"]["setuptools"]["py-modules"]:
        shutil.copy(source / f"{module}.py", target)
    info = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = []
    for group, entries in project["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in entries.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    return str(project["name"])


def textlens(env: dict[str, str], *args: str) -> Any:
    """Run the console script in a fresh process; return its JSON output."""
    done = subprocess.run([str(SCRIPT), *args, "--json"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_a_separately_installed_engine_is_listed_and_used_through_its_entry_point(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    dist = install_package(ECHO_PACKAGE, site)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTLENS_")}
    env.pop("PYTHONPATH", None)
    assert "echo" not in {e["name"] for e in textlens(env, "engines")["engines"]}
    env["PYTHONPATH"] = str(site)

    rows = {e["name"]: e for e in textlens(env, "engines")["engines"]}
    assert rows["echo"] == {"name": "echo", "origin": f"plugin {dist}", "version": "0.3.0",
                            "available": True, "detail": "ready"}

    picture = tmp_path / "in" / "note.png"
    picture.parent.mkdir()
    render_text_image(["whatever is drawn here"], font_size=30).save(picture)
    from PIL import Image

    with Image.open(picture) as im:
        expected = f"echo{im.width}x{im.height}"  # depends on the input: no accidental pass
    lib = str(tmp_path / "lib")
    [record] = textlens(env, "-L", lib, "add", str(picture))["records"]
    scan = textlens(env, "-L", lib, "--set", "engine=echo", "scan")
    assert (scan["pages_done"], scan["pages_failed"]) == (1, 0)

    found = textlens(env, "-L", lib, "search", expected)
    assert [hit["record"]["id"] for hit in found["results"]] == [record["id"]]
    [attachment] = textlens(env, "-L", lib, "show", f"a{record['attachments'][0]['id']}")[
        "attachments"]
    run = attachment["ocr"]["run"]
    assert (run["engine"], run["engine_version"], run["model"]) == (
        "echo", "0.3.0", "echo-size-model")
    assert [p["text"] for p in attachment["ocr"]["pages"]] == [expected]
