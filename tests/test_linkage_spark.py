"""The same model on Spark (pyspark local mode) gives the same links as on DuckDB.

Slow-ish (a JVM starts, ~15 s): one session, local[1], tiny shuffles, a few hundred rows.
"""

import logging

import pytest

pytest.importorskip("pyspark")

from kongchuo.matching.linkage import link_people, spark_session  # noqa: E402
from kongchuo.matching.truth import generate  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[1]", shuffle_partitions=1)
    session.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # py4j logs its shutdown after pytest closed the stream
    yield session
    session.stop()


@pytest.fixture(scope="module")
def truth():
    return generate(600, 11)


def _view(result):
    # Jaro-Winkler is DuckDB's function on one side and Splink's Scala UDF on the other: equal to 1e-9, not bit for bit.
    return [
        sorted((link.left, link.right, round(link.weight, 6), tuple(sorted(link.agreements.items()))) for link in links)
        for links in (result.auto, result.review)
    ]


def test_link_on_spark_matches_duckdb(spark, truth):
    on_duckdb = link_people(truth.household, mode="link", other=truth.registry)
    on_spark = link_people(truth.household, mode="link", other=truth.registry, backend="spark", spark=spark)
    assert len(on_spark.auto) > 500 and any(len(link.agreements) > 1 for link in on_spark.auto)
    assert _view(on_spark) == _view(on_duckdb)


def test_dedupe_on_spark_matches_duckdb(spark, truth):
    on_duckdb = link_people(truth.registry, mode="dedupe")
    on_spark = link_people(truth.registry, mode="dedupe", backend="spark", spark=spark)
    assert on_spark.auto
    assert _view(on_spark) == _view(on_duckdb)
