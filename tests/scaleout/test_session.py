"""The Java check: Spark 4 needs Java 17+, and the message says so when it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from vasoguide.scaleout.session import SparkUnavailableError, check_java, java_version


def _fake_java(tmp_path: Path, banner: str) -> str:
    java = tmp_path / "java"
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    java.chmod(0o755)
    return str(java)


@pytest.mark.parametrize(("banner", "major"), [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('openjdk version "21" 2023-09-19', 21),
    ('java version "1.8.0_391"', 8),
    ('openjdk version "11.0.22" 2024-01-16', 11),
])
def test_the_java_version_is_read_from_its_banner(tmp_path: Path, banner: str,
                                                  major: int) -> None:
    assert java_version(_fake_java(tmp_path, banner)) == major


def test_an_old_java_is_refused_with_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(SparkUnavailableError, match="needs Java 17 or newer; found Java 11"):
        check_java(_fake_java(tmp_path, 'openjdk version "11.0.22" 2024-01-16'))


def test_no_java_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkUnavailableError, match="Java runtime 17 or newer"):
        check_java()
    assert check_java(_fake_java(tmp_path, 'openjdk version "17.0.1"')) == 17
