"""Checks that the README, CI script, Dockerfile and Streamlit config agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_has_app_and_test_commands():
    commands = _readme_commands()

    assert "pip install -r requirements.txt && streamlit run app.py" in commands
    assert "pip install -r requirements.txt && python -m pytest" in commands


def test_ci_runs_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    readme_test = "pip install -r requirements.txt && python -m pytest"

    assert readme_test in _readme_commands()
    assert "python -m pytest" in ci_lines
    assert any("install-deps.sh" in line for line in ci_lines)


def test_dockerfile_uses_ci_install_script():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")

    assert "FROM python:3.11-slim" in dockerfile
    assert "RUN bash .ci/install-deps.sh" in dockerfile
    assert re.search(r"^USER explorer$", dockerfile, flags=re.MULTILINE)
    assert "EXPOSE 8501" in dockerfile
    assert "/_stcore/health" in dockerfile
    assert 'VOLUME ["/data", "/cache"]' in dockerfile


def test_dockerignore_keeps_git_and_artifacts_out():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()

    assert ".git" in ignored
    assert "test-artifacts" in ignored


def test_install_script_reads_requirements():
    script = (ROOT / ".ci" / "install-deps.sh").read_text(encoding="utf-8")

    assert "-r \"$here/requirements.txt\"" in script


def test_requirements_pin_every_package():
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = [line for line in lines if line.strip() and not line.startswith("#")]

    unpinned = [line for line in requirements if "==" not in line]
    assert unpinned == []
    assert "torch==2.14.1" in requirements
    assert "torchvision==0.29.1" in requirements


def test_streamlit_config_is_safe():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))

    assert config["server"]["address"] == "localhost"
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["maxUploadSize"] <= 50
    assert config["browser"]["gatherUsageStats"] is False
    assert "theme" in config
