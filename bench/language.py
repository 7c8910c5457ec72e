"""Language detection: accuracy on a hand-written corpus, time per text and memory.

    .venv/bin/python bench/language.py [--corpus tests/data/language_corpus.jsonl]
                                       [--baseline OLD_MODULE.py]

The corpus (220 texts: 55 each in French, English, Dutch and German; short titles, long
bodies, code-heavy reports, and prose mixed with English technical terms or foreign names)
was written for this evaluation, apart from any word list. Each entry is detected as
Veilleur detects an item: title and body together, among the four languages, with a
fallback that is none of them, so "unsure" counts as a miss. Prints accuracy per language
and per kind, the misses, milliseconds per text and the process's peak memory, and writes
bench/results/language.json. `--baseline` evaluates another module exposing
`detect_language(text, offered, fallback)` on "title\\nbody" (e.g. the word-list detector
this one replaced, extracted with `git show`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

LANGS = ("en", "fr", "nl", "de")
UNSURE = "??"


def load(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate(entries: list[dict[str, str]], detect: Callable[[str, str], str]) -> dict[str, Any]:
    """Accuracy overall, per language and per kind; the misses."""
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for e in entries:
        got = detect(e["title"], e["body"])
        ok = got == e["lang"]
        for key in ("all", f"lang:{e['lang']}", f"kind:{e['kind']}"):
            hits[key][0] += ok
            hits[key][1] += 1
        if not ok:
            misses.append(
                {"expected": e["lang"], "got": got, "kind": e["kind"], "title": e["title"]}
            )
    accuracy = {k: round(h / n, 4) for k, (h, n) in sorted(hits.items())}
    return {"accuracy": accuracy, "counts": {k: n for k, (_, n) in hits.items()}, "misses": misses}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(HERE.parent / "tests/data/language_corpus.jsonl"))
    parser.add_argument("--baseline", help="a module file with detect_language(text, ...)")
    args = parser.parse_args(argv)
    entries = load(Path(args.corpus))

    before = peak_mb()
    from bot.messages.language import detect_item_language

    started = time.perf_counter()
    first = detect_item_language("Bonjour", "", LANGS, UNSURE)  # builds the detector
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    result = evaluate(entries, lambda t, b: detect_item_language(t, b, LANGS, UNSURE))
    per_text_ms = (time.perf_counter() - started) * 1000 / len(entries)
    report: dict[str, Any] = {
        "detector": "lingua (bot.messages.language)",
        "texts": len(entries),
        **result,
        "ms_per_text": round(per_text_ms, 3),
        "first_call_s": round(load_s, 3),
        "peak_mb_before": round(before, 1),
        "peak_mb_after": round(peak_mb(), 1),
        "sanity": first,
    }
    if args.baseline:
        spec = importlib.util.spec_from_file_location("baseline_language", args.baseline)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        old = evaluate(
            entries, lambda t, b: module.detect_language(f"{t}\n{b}", LANGS, fallback=UNSURE)
        )
        report["baseline"] = {"module": args.baseline, "accuracy": old["accuracy"]}

    print(f"{len(entries)} texts; accuracy (lingua, title and body read together):")
    for key, value in report["accuracy"].items():
        base = report.get("baseline", {}).get("accuracy", {}).get(key)
        extra = f"   (baseline {base:.1%})" if base is not None else ""
        print(f"  {key:12} {value:6.1%}  of {report['counts'][key]}{extra}")
    print(f"{per_text_ms:.2f} ms per text; first call (models loaded) {load_s:.2f} s;")
    print(f"peak memory {report['peak_mb_before']} MB before, {report['peak_mb_after']} MB after")
    for miss in result["misses"]:
        print(f"  miss: {miss['expected']} -> {miss['got']} [{miss['kind']}] {miss['title']!r}")
    out = HERE / "results" / "language.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
