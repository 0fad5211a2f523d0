"""Scale-out: the practice audit on Apache Spark 4 (optional extra `.[spark]`, Java 17+).

The per-stay work is vasoguide.timeline.perstay.audit_stays, the same function the local
audit calls; Spark only distributes stays (`groupBy(stay).applyInArrow`). docs/SCALE-OUT.md.
"""

from .audit import run_spark_audit
from .session import SparkUnavailableError, check_java, spark_session

__all__ = ["SparkUnavailableError", "check_java", "run_spark_audit", "spark_session"]
