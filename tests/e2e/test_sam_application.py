"""The SAM application builds, validates and passes checkov from this machine (Python 3.11
here, python3.13 targeted), with the layer under its size gate and carrying bytecode for every
runtime it declares."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools/sam/bin/sam"
CHECKOV = ROOT / ".tools/checkov/bin/checkov"
ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0"}

needs_sam = pytest.mark.skipif(not SAM.exists(), reason="sam not installed: run `make tools`")
needs_checkov = pytest.mark.skipif(not CHECKOV.exists(), reason="no checkov: `make tools`")


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600
    )


@needs_sam
def test_template_validates_with_lint() -> None:
    result = run(SAM, "validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@needs_checkov
def test_checkov_passes_with_every_skip_explained() -> None:
    result = run(
        CHECKOV,
        "-f",
        "template.yaml",
        "--framework",
        "cloudformation",
        "--compact",
        "--quiet",
        "--skip-download",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "template.yaml").read_text()
    skips = text.count("- id: CKV_")
    assert skips == text.count("comment:"), "every checkov skip needs a comment with its reason"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    if not SAM.exists():
        pytest.skip("sam not installed: run `make tools`")
    build_dir = tmp_path_factory.mktemp("sam-build")
    result = run(
        SAM,
        "build",
        "--parallel",
        "--build-dir",
        build_dir,
        "--parameter-overrides",
        "Architecture=arm64",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build_dir, result.stdout + result.stderr


def test_sam_build_makes_the_layer_for_python313_arm64(built: tuple[Path, str]) -> None:
    build_dir, _ = built
    layer = build_dir / "TracingLayer"
    assert (layer / "python/lambda_tracing/__init__.py").exists()
    wrapper = layer / "lambda-tracing"
    assert wrapper.exists() and wrapper.stat().st_mode & stat.S_IXUSR
    # Wheels were chosen for Lambda's interpreter, not this machine's 3.11.
    compiled = [p.name for p in layer.rglob("*.so")]
    assert compiled and all("cpython-313-aarch64" in name for name in compiled), compiled
    # What the runtime already provides is pruned.
    for provided in ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "jmespath"):
        assert not (layer / "python" / provided).exists(), provided
    # Only the bytecode compiled for Lambda's runtimes, never this machine's.
    assert not list(layer.rglob("*.cpython-311.pyc"))


def declared_runtimes() -> list[str]:
    from lambda_tracing_local.runtime.template import load_template

    layer = load_template(ROOT / "template.yaml")["Resources"]["TracingLayer"]["Properties"]
    return list(layer["CompatibleRuntimes"])


def lambda_pythons() -> list[str]:
    rules = (ROOT / "scripts/lambda-build.mk").read_text()
    found = re.search(r"^LAMBDA_PYTHONS \?= (.+)$", rules, re.MULTILINE)
    assert found
    return found.group(1).split()


def test_the_layer_declares_exactly_the_runtimes_it_compiles_for() -> None:
    assert declared_runtimes() == [f"python{v}" for v in lambda_pythons()]
    makefile = (ROOT / "Makefile").read_text()
    assert f"LAMBDA_PYTHONS := {' '.join(lambda_pythons())}\n" in makefile


def test_every_module_of_the_layer_has_bytecode_for_each_declared_runtime(
    built: tuple[Path, str],
) -> None:
    build_dir, log = built
    python_dir = build_dir / "TracingLayer/python"
    sources = list(python_dir.rglob("*.py"))
    assert len(sources) > 100  # ours and the SDK's
    for runtime in declared_runtimes():
        version = runtime.removeprefix("python")
        assert f"bytecode gate: {len(sources)} modules, Python {version}: ok" in log
        # Checked again here, by that runtime's own interpreter, on what SAM left behind.
        interpreter = ROOT / f".tools/python{version}/bin/python{version}"
        gate = run(interpreter, ROOT / "scripts/check_bytecode.py", python_dir)
        assert gate.returncode == 0, gate.stdout + gate.stderr


def test_bytecode_gate_names_a_module_without_bytecode(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("A = 1\n")
    (package / "b.py").write_text("B = 2\n")
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "checked-hash", tmp_path],
        check=True,
    )
    gate = ROOT / "scripts/check_bytecode.py"
    assert subprocess.run([sys.executable, gate, tmp_path]).returncode == 0
    (package / "b.py").write_text("B = 3\n")  # changed after compiling
    for cached in package.glob("__pycache__/a.*.pyc"):
        cached.unlink()
    failed = subprocess.run([sys.executable, gate, tmp_path], capture_output=True, text=True)
    assert failed.returncode == 1
    assert "pkg/a.py: no bytecode" in failed.stdout
    assert "pkg/b.py: bytecode of an older source" in failed.stdout
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-f", tmp_path], check=True)
    timestamped = subprocess.run([sys.executable, gate, tmp_path], capture_output=True, text=True)
    assert "not checked-hash bytecode" in timestamped.stdout


def test_sam_build_enforces_the_size_gate(built: tuple[Path, str]) -> None:
    build_dir, log = built
    assert "size gate: TracingLayer" in log and ": ok" in log
    archive = build_dir.parent / "layer.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in (build_dir / "TracingLayer").rglob("*"):
            zf.write(path, path.relative_to(build_dir / "TracingLayer"))
    assert archive.stat().st_size <= 2 * 1024 * 1024


def test_functions_are_built_with_their_code(built: tuple[Path, str]) -> None:
    build_dir, _ = built
    assert (build_dir / "ServiceMapFunction/service_map/__init__.py").exists()
    assert (build_dir / "OrdersFunction/app.py").exists()
    assert (build_dir / "WorkerFunction/app.py").exists()


def test_size_gate_fails_an_oversized_artefact(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(os.urandom(20_000))
    gate = ROOT / "scripts/check_artefact_size.py"

    def gate_at(limit: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, gate, tmp_path, limit], capture_output=True, text=True
        )

    over = gate_at("10000")
    assert over.returncode == 1 and "TOO BIG" in over.stdout
    under = gate_at("100000")
    assert under.returncode == 0 and ": ok" in under.stdout


def test_serverless_repo_metadata_names_real_files_and_the_project_version() -> None:
    import tomllib

    from lambda_tracing_local.runtime.template import load_template

    app = load_template(ROOT / "template.yaml")["Metadata"]["AWS::ServerlessRepo::Application"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert app["SemanticVersion"] == version
    assert app["SpdxLicenseId"] == "Apache-2.0"
    for key in ("LicenseUrl", "ReadmeUrl"):  # local files that `sam package` uploads
        assert (ROOT / app[key]).is_file(), key
    assert "Apache License" in (ROOT / app["LicenseUrl"]).read_text()[:200]
    for key in ("Name", "Description", "Author", "SourceCodeUrl"):
        assert app[key], key
