"""The apt_signing_key module run by real Ansible on the controller, on keys made with gpg for the tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from conftest import ROOT

GOLDEN = ROOT / "tests" / "unit" / "golden" / "openpgp"
ED25519 = "B33BC917B00DA8C70B507A79C1AB173DA7EADF2F"


def run_module(args: dict, *extra: str) -> dict:
    proc = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-m", "apt_signing_key", "-a", json.dumps(args), *extra],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
    )  # fmt: skip
    result, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    return result["plays"][0]["tasks"][0]["hosts"]["localhost"]


def staged(tmp_path: Path, name: str) -> str:
    src = tmp_path / "fetched.key"
    shutil.copy(GOLDEN / name, src)
    return str(src)


def test_the_pinned_key_is_installed_once(tmp_path):
    dest = tmp_path / "keyrings" / "repo.asc"
    dest.parent.mkdir()
    args = {"src": staged(tmp_path, "ed25519.asc"), "dest": str(dest), "fingerprint": ED25519.lower()}
    assert run_module(args, "--check")["changed"] is True and not dest.exists()
    first = run_module(args)
    assert first["changed"] is True and first["fingerprint"] == ED25519
    assert dest.read_bytes() == (GOLDEN / "ed25519.asc").read_bytes()
    assert oct(dest.stat().st_mode & 0o777) == "0o644"
    assert run_module(args)["changed"] is False


def test_another_key_is_refused_and_the_installed_one_stays(tmp_path):
    dest = tmp_path / "repo.asc"
    dest.write_bytes((GOLDEN / "ed25519.asc").read_bytes())
    before = dest.read_bytes()
    # The URL now serves another key, or one more key beside the pinned one.
    for name, held in [
        ("rsa2048.gpg", "2DBB0E46886475332EDB2DD05FFB0CD9C75259DE"),
        ("two-keys.asc", ED25519),
    ]:
        result = run_module({"src": staged(tmp_path, name), "dest": str(dest), "fingerprint": ED25519})
        assert result.get("failed") is True
        assert held in result["msg"] and f"not only {ED25519}: not installed" in result["msg"]
        assert dest.read_bytes() == before


def test_what_is_not_a_key_or_not_a_fingerprint_is_named(tmp_path):
    dest = tmp_path / "repo.asc"
    page = tmp_path / "page.html"
    page.write_text("<html>moved</html>")
    result = run_module({"src": str(page), "dest": str(dest), "fingerprint": ED25519})
    assert "neither armored nor binary" in result["msg"]
    result = run_module({"src": staged(tmp_path, "ed25519.asc"), "dest": str(dest), "fingerprint": "DE15"})
    assert "fingerprint: fingerprint 'DE15' is not 40 (v4) or 64 (v6) hex digits" in result["msg"]
    assert not dest.exists()
