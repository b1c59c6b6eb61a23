"""Benchmark (issue 4): identity resolution of a household list against a school registry.

    .venv/bin/python bench/bench_match.py [--n 1000000] [--subset 50000] [--seed 2026] [--json]

One run generates n household rows and n registry rows (kongchuo.matching.truth: the same children on
both lists, with every kind of injected error and known truth) and measures, each step in its own process
so that its peak memory (ru_maxrss) is its own:

  (a) the floor: a bare DuckDB join of the two lists on the ID number (Arrow tables in memory, the
      result materialised) — what any exact-ID match costs at least;
  (b) ours: `link_people(household, mode="link", other=registry)` — normalising, pinyin, the exact stage,
      Splink on what is left, explanations — over the full lists, with precision and recall of the auto links;
  (c) on a subset of `--subset` children: ours again, and the Python `recordlinkage` toolkit (0.16, pandas)
      doing the same job the way its manual does it — block on ID, name pinyin + birth year and birth date +
      surname, compare ID, names, birth date, gender, guardian and village, classify by score — with its
      own precision and recall. recordlinkage is a bench-only tool: `.venv/bin/pip install recordlinkage`.

Data generation is not timed. Results go to docs/performance.md "## Matching (issue 4)" by hand.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _quality(links, truth_links) -> dict:
    found = {(link.left, link.right) for link in links}
    true = len(found & truth_links.keys())
    return {"auto": len(found), "true_pairs": len(truth_links), "precision": true / max(len(found), 1), "recall": true / len(truth_links)}


def _subset(truth, children: int):
    """The rows of the first `children` children (uids carry the child's index)."""
    keep = lambda uid: int(uid[1:]) < children  # noqa: E731
    household = [row for row in truth.household if keep(row[0])]
    registry = [row for row in truth.registry if keep(row[0])]
    links = {pair: kind for pair, kind in truth.links.items() if keep(pair[0]) and keep(pair[1])}
    return household, registry, links


def part_full(n: int, seed: int) -> dict:
    import duckdb

    from kongchuo.matching.linkage import as_arrow, link_people
    from kongchuo.matching.truth import generate

    started = time.perf_counter()
    truth = generate(n, seed)
    household, registry = as_arrow(truth.household), as_arrow(truth.registry)
    generated = time.perf_counter() - started
    after_generate = _peak_mb()

    con = duckdb.connect()
    con.register("h", household)
    con.register("r", registry)
    mark = time.perf_counter()
    con.execute("CREATE TABLE pairs AS SELECT h.uid AS l, r.uid AS r FROM h JOIN r ON h.id_number = r.id_number")
    floor = time.perf_counter() - mark
    floor_pairs = con.execute("SELECT count(*) FROM pairs").fetchall()[0][0]
    con.close()

    mark = time.perf_counter()
    result = link_people(household, mode="link", other=registry)
    ours = time.perf_counter() - mark
    return {
        "rows": [household.num_rows, registry.num_rows],
        "generate_seconds": round(generated, 1),
        "floor_seconds": round(floor, 3),
        "floor_pairs": floor_pairs,
        "ours_seconds": round(ours, 2),
        "ratio": round(ours / floor, 1),
        "ours_stats": result.stats,
        "review": len(result.review),
        "quality": _quality(result.auto, truth.links),
        "peak_mb_after_generate": round(after_generate),
        "peak_mb": round(_peak_mb()),
    }


def part_subset_ours(n: int, seed: int, children: int) -> dict:
    from kongchuo.matching.linkage import as_arrow, link_people
    from kongchuo.matching.truth import generate

    household, registry, links = _subset(generate(n, seed), children)
    household, registry = as_arrow(household), as_arrow(registry)
    before = _peak_mb()
    mark = time.perf_counter()
    result = link_people(household, mode="link", other=registry)
    return {
        "rows": [household.num_rows, registry.num_rows],
        "seconds": round(time.perf_counter() - mark, 2),
        "quality": _quality(result.auto, links),
        "peak_mb_before": round(before),
        "peak_mb": round(_peak_mb()),
    }


def part_subset_recordlinkage(n: int, seed: int, children: int) -> dict:
    import pandas as pd
    import recordlinkage

    from kongchuo.matching.truth import generate
    from kongchuo.people.names import name_pinyin

    household, registry, links = _subset(generate(n, seed), children)
    columns = ["uid", "source", "name", "gender", "birth_date", "id_number", "guardian_name", "division_code"]
    left = pd.DataFrame(household, columns=columns).set_index("uid")
    right = pd.DataFrame(registry, columns=columns).set_index("uid")
    before = _peak_mb()
    mark = time.perf_counter()
    for frame in (left, right):  # the same derived columns ours uses
        frame["name_py"] = frame["name"].map(lambda name: name_pinyin(name)[0])
        frame["surname_py"] = frame["name"].map(lambda name: name_pinyin(name[:1])[0])
        frame["guardian_py"] = frame["guardian_name"].map(lambda name: name_pinyin(name)[0] if name else None)
        frame["birth"] = frame["birth_date"].map(lambda day: day.strftime("%Y%m%d") if day else None)
        frame["birth_year"] = frame["birth"].str[:4]
    indexer = recordlinkage.Index()
    indexer.block("id_number")
    indexer.block(["name_py", "birth_year"])
    indexer.block(["birth", "surname_py"])
    candidates = indexer.index(left, right)
    compare = recordlinkage.Compare()
    compare.exact("id_number", "id_number", label="id_exact")
    compare.string("id_number", "id_number", method="damerau_levenshtein", threshold=0.94, label="id_close")
    compare.exact("name", "name", label="name")
    compare.string("name_py", "name_py", method="jarowinkler", threshold=0.9, label="name_py")
    compare.exact("birth", "birth", label="birth")
    compare.exact("gender", "gender", label="gender")
    compare.string("guardian_py", "guardian_py", method="jarowinkler", threshold=0.9, label="guardian")
    compare.exact("division_code", "division_code", label="village")
    features = compare.compute(candidates, left, right)
    # The manual's deterministic classifier: a weighted score over the agreeing fields, one threshold.
    score = (4 * features["id_exact"] + 3 * features["id_close"] + features["name"] + features["name_py"] + 1.5 * features["birth"]
             + 0.5 * features["gender"] + features["guardian"] + features["village"])
    matches = features.index[score >= 4.5]
    seconds = time.perf_counter() - mark
    found = set(zip(matches.get_level_values(0), matches.get_level_values(1), strict=True))
    true = len(found & links.keys())
    return {
        "rows": [len(left), len(right)],
        "candidate_pairs": len(candidates),
        "seconds": round(seconds, 2),
        "quality": {"auto": len(found), "true_pairs": len(links), "precision": true / max(len(found), 1), "recall": true / len(links)},
        "peak_mb_before": round(before),
        "peak_mb": round(_peak_mb()),
    }


def _run_part(name: str, args) -> dict:
    command = [sys.executable, __file__, "--part", name, "--n", str(args.n), "--seed", str(args.seed), "--subset", str(args.subset)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"part {name} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="children (≈ rows per list)")
    parser.add_argument("--subset", type=int, default=50_000, help="children in the recordlinkage comparison")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--part", choices=["full", "subset-ours", "subset-recordlinkage"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        out = {
            "full": lambda: part_full(args.n, args.seed),
            "subset-ours": lambda: part_subset_ours(args.subset, args.seed, args.subset),
            "subset-recordlinkage": lambda: part_subset_recordlinkage(args.subset, args.seed, args.subset),
        }[args.part]()
        print(json.dumps(out, ensure_ascii=False))
        return

    results = {
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join([".venv/bin/python", "bench/bench_match.py", *sys.argv[1:]]),
        "full": _run_part("full", args),
        "subset_ours": _run_part("subset-ours", args),
        "subset_recordlinkage": _run_part("subset-recordlinkage", args),
    }
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return
    full, ours, theirs = results["full"], results["subset_ours"], results["subset_recordlinkage"]
    q = full["quality"]
    print(f"{results['machine']}\n{results['command']}")
    rows = f"{full['rows'][0]:,} household × {full['rows'][1]:,} registry rows"
    print(f"\nfull lists: {rows} (generated in {full['generate_seconds']} s, not timed)")
    print(f"  floor, DuckDB exact-ID join:  {full['floor_seconds']:.3f} s ({full['floor_pairs']:,} pairs)")
    print(f"  ours, link_people:            {full['ours_seconds']:.2f} s = {full['ratio']}× the floor  {full['ours_stats']}")
    print(f"  auto links {q['auto']:,}, precision {q['precision']:.4%}, recall {q['recall']:.4%}; review {full['review']:,}")
    print(f"  peak RSS: {full['peak_mb_after_generate']} MB after generating, {full['peak_mb']} MB after linking")
    print(f"\nsubset: {ours['rows'][0]:,} × {ours['rows'][1]:,} rows")
    for name, part in (("ours", ours), ("recordlinkage", theirs)):
        q = part["quality"]
        print(f"  {name:14} {part['seconds']:8.2f} s  precision {q['precision']:.4%}  recall {q['recall']:.4%}  "
              f"peak RSS {part['peak_mb_before']} → {part['peak_mb']} MB")
    print(f"  recordlinkage ÷ ours: {theirs['seconds'] / ours['seconds']:.1f}×; recordlinkage compared {theirs['candidate_pairs']:,} pairs")


if __name__ == "__main__":
    main()
