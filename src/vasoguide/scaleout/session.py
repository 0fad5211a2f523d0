"""A Spark session set up for the audit, after checking what Spark 4 needs (Java 17+)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["MIN_JAVA", "SparkUnavailableError", "check_java", "java_version", "spark_session"]

MIN_JAVA = 17  # Spark 4.0 dropped Java 8 and 11 (SPARK-45315)


class SparkUnavailableError(RuntimeError):
    """Spark cannot run here; the message says what to install."""


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_version(java: str | None = None) -> int | None:
    """The major version of the Java runtime Spark would start (None: no Java found)."""
    java = java or _java()
    if java is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    # `openjdk version "17.0.15" ...`; Java 8 reports "1.8.0_..."
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def check_java(java: str | None = None) -> int:
    """The Java major version, or SparkUnavailableError saying how to get Java 17+."""
    version = java_version(java)
    if version is None:
        raise SparkUnavailableError(
            f"Spark 4 needs a Java runtime {MIN_JAVA} or newer and none was found: install one "
            "(e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME"
        )
    if version < MIN_JAVA:
        raise SparkUnavailableError(
            f"Spark 4 needs Java {MIN_JAVA} or newer; found Java {version} "
            f"({java or _java()}): install Java {MIN_JAVA}+ or point JAVA_HOME at one"
        )
    return version


def spark_session(master: str = "local[*]", conf: dict[str, str] | None = None) -> Any:
    """A SparkSession for the audit (getOrCreate: an existing session is reused).

    Executors run this interpreter (PYSPARK_PYTHON) unless it is set already, which on a
    cluster points at the environment where vasoguide is installed (docs/SCALE-OUT.md).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailableError(
            "the Spark engine needs PySpark: pip install 'vasoguide[spark]'"
        ) from exc
    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName("vasoguide-audit")
        # event times are UTC instants; Arrow batches carry them without conversion
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # the CLI shows its own progress bar (stays done); Spark's would draw over it
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master.startswith("local"):
        builder = builder.config("spark.ui.enabled", "false")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
