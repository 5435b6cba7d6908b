"""Discourse benchmark and validation: speed of the layers, planted labels, advice-reddit, Stack Exchange.

Run by hand (not part of the test suite):

    .venv/bin/python bench/discourse_bench.py speed --posts 100000      # fast pass, rules, MiniLM, the step
    .venv/bin/python bench/discourse_bench.py synthetic --posts 5000    # planted labels, per-code F1
    .venv/bin/python bench/discourse_bench.py advice                    # advice-reddit, every layer (slow: MiniLM,
                                                                        # fine-tuning ~30 min on one CPU thread)
    .venv/bin/python bench/discourse_bench.py stackexchange             # questions vs answers (weak label)

* speed: on a cached synthetic forum (bench/cache/synth-<posts>-s1). Each measurement runs in a child
  process with its wall time and peak RSS: the rules layer (the baseline of the same run), the fast pass
  (trained by distillation from the rules on a 20,000-post sample, then scoring every post in batches of
  5,000), MiniLM similarity on ``--minilm-posts`` posts (batched; GPU when torch sees one), and the whole
  discourse step (rules + fast, sentence level, languages, aggregates) on a copy of the ingested case.
  Threads are capped at ``--threads`` (default 2, the target machine).
* synthetic / advice / stackexchange: the validation numbers quoted in docs/validation.md.
Writes JSON and Markdown under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, machine, run_child, synth_forum, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

LOAD = """
import json, time, resource
texts = []
with open('{forum}/posts.ndjson', encoding='utf-8') as fh:
    for line in fh:
        texts.append(json.loads(line).get('text') or '')
texts = texts[:{limit}]
from forumscope.discourse.codebook import load_codebook
cb = load_codebook('operating-model')
"""

RULES = LOAD + """
from forumscope.discourse.rules import RulesLayer
layer = RulesLayer(); layer.fit(cb)
t = time.perf_counter()
for i in range(0, len(texts), 5000):
    layer.score(texts[i:i + 5000])
print('RESULT', json.dumps({{'posts': len(texts), 'seconds': time.perf_counter() - t}}))
"""

FAST = LOAD + """
import numpy as np
from forumscope.discourse.fast import FastLayer, examples_matrix
from forumscope.discourse.rules import RulesLayer
from forumscope.discourse.sentences import split_sentences
t0 = time.perf_counter()
rules = RulesLayer(); rules.fit(cb)
rng = np.random.default_rng(0)
sample = [texts[i] for i in rng.choice(len(texts), size=min(20000, len(texts)), replace=False)]
train = sample + [s for t in sample for s in split_sentences(t) if s != t]
ex, ey = examples_matrix(cb)
layer = FastLayer().train(cb, train + ex, np.vstack([(rules.score(train) >= 0.5).astype(np.int8), ey]))
train_s = time.perf_counter() - t0
t = time.perf_counter()
for i in range(0, len(texts), 5000):
    layer.score(texts[i:i + 5000])
print('RESULT', json.dumps({{'posts': len(texts), 'seconds': time.perf_counter() - t, 'train_seconds': train_s,
                            'train_texts': len(train) + len(ex)}}))
"""

MINILM = LOAD + """
from forumscope.discourse.embedding import EmbeddingLayer, resolve_device
layer = EmbeddingLayer(batch_size={batch}); layer.fit(cb)
layer.score(texts[:64])  # warm up
t = time.perf_counter()
layer.score(texts)
print('RESULT', json.dumps({{'posts': len(texts), 'seconds': time.perf_counter() - t, 'device': resolve_device()}}))
"""

STEP = """
import json, shutil, time, forumscope
from forumscope.pipeline.runner import run_steps
shutil.rmtree('{work}', ignore_errors=True)
shutil.copytree('{case}', '{work}')
case = forumscope.open_case('{work}')
t = time.perf_counter()
(rec,) = run_steps(case, ['discourse'], {{'discourse': {params}}})
secs = time.perf_counter() - t
layers = case.con.execute("SELECT layer, seconds FROM discourse_layers WHERE run_id = ?", [rec.run_id]).fetchall()
print('RESULT', json.dumps({{'seconds': secs, 'rows': rec.rows, 'layer_seconds': dict(layers)}}))
case.close()
shutil.rmtree('{work}', ignore_errors=True)
"""


def _child(code: str, threads: int) -> dict:
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    secs, rss, out = run_child(code, env=env)
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    res = json.loads(line[7:])
    res["wall_seconds"] = secs
    res["peak_rss_mb"] = rss / 2**20
    return res


def ingested_case(posts: int) -> Path:
    case = CACHE / f"case-discourse-{posts}"
    if not (case / "case.toml").exists():
        import forumscope

        forumscope.ingest_sources([synth_forum(posts)], case)
    return case


def speed(args: argparse.Namespace) -> None:
    forum = synth_forum(args.posts)
    res: dict = {"posts": args.posts, "threads": args.threads}
    print("rules ...", file=sys.stderr, flush=True)
    res["rules"] = _child(RULES.format(forum=forum, limit=args.posts), args.threads)
    print("fast ...", file=sys.stderr, flush=True)
    res["fast"] = _child(FAST.format(forum=forum, limit=args.posts), args.threads)
    if args.minilm_posts:
        print("minilm ...", file=sys.stderr, flush=True)
        res["minilm"] = _child(MINILM.format(forum=forum, limit=args.minilm_posts, batch=args.batch), args.threads)
    if not args.no_step:
        print("step ...", file=sys.stderr, flush=True)
        case = ingested_case(args.posts)
        work = CACHE / f"work-discourse-{args.posts}"
        res["step"] = _child(STEP.format(case=case, work=work, params=repr({})), args.threads)
    for k in ("rules", "fast", "minilm"):
        if k in res:
            res[k]["posts_per_second"] = res[k]["posts"] / res[k]["seconds"]
    if "step" in res:
        res["step"]["posts_per_second"] = args.posts / res["step"]["seconds"]
    payload = {"machine": machine(), "speed": res}
    md = [f"# Discourse speed ({payload['machine']['date']}, {payload['machine']['cpu']}, "
          f"{args.threads} threads)", "", f"Synthetic forum of {args.posts:,} posts.", "",
          "| what | posts/s | seconds | peak RSS (MB) | ratio to rules |", "|---|---|---|---|---|"]
    base = res["rules"]["posts_per_second"]
    for k in ("rules", "fast", "minilm", "step"):
        if k in res:
            r = res[k]
            md.append(f"| {k} | {r['posts_per_second']:,.0f} | {r['seconds']:.1f} | {r['peak_rss_mb']:,.0f} | "
                      f"{r['posts_per_second'] / base:.3f} |")
    write_results(f"discourse-speed-{args.posts}", payload, "\n".join(md) + "\n")
    print(json.dumps(payload, indent=2))


def synthetic(args: argparse.Namespace) -> None:
    import forumscope
    from forumscope.discourse.codebook import load_codebook
    from forumscope.discourse.evaluate import synthetic_truth, tags_vs_truth
    from forumscope.pipeline.runner import run_steps

    forum = synth_forum(args.posts, seed=args.seed)
    case = CACHE / f"case-discourse-val-{args.posts}-s{args.seed}"
    shutil.rmtree(case, ignore_errors=True)
    forumscope.ingest_sources([forum], case)
    layers = tuple(args.layers.split(","))
    codes = load_codebook("operating-model").code_ids
    truth = synthetic_truth(forum)
    truth_all = synthetic_truth(forum, primary_only=False)
    out: dict = {"posts": args.posts, "seed": args.seed, "layers": {}}
    with forumscope.open_case(case) as c:
        run = run_steps(c, ["discourse"], {"discourse": {"layers": layers, "languages": ("en", "de", "es")}})[0]
        names = [r[0] for r in c.con.execute("SELECT layer FROM discourse_layers WHERE run_id = ? ORDER BY rowid",
                                             [run.run_id]).fetchall()]
        for name in names:
            out["layers"][name] = tags_vs_truth(c, truth, codes, layer=name, run_id=run.run_id)
            out["layers"][name]["macro_f1_all_labels"] = tags_vs_truth(c, truth_all, codes, layer=name,
                                                                       run_id=run.run_id)["macro_f1"]
    shutil.rmtree(case, ignore_errors=True)
    md = [f"# Discourse: planted labels ({args.posts:,} posts, seed {args.seed})", "",
          "| code | positives | " + " | ".join(f"{n} P / R / F1" for n in out["layers"]) + " |",
          "|---|---|" + "---|" * len(out["layers"])]
    for code in codes:
        first = next(iter(out["layers"].values()))["codes"][code]
        cells = [f"{v['codes'][code]['precision']:.2f} / {v['codes'][code]['recall']:.2f} / "
                 f"{v['codes'][code]['f1']:.2f}" for v in out["layers"].values()]
        md.append(f"| {code} | {first['positives']} | " + " | ".join(cells) + " |")
    md.append("| **macro-F1** | | " + " | ".join(f"{v['macro_f1']:.3f}" for v in out["layers"].values()) + " |")
    md.append("| macro-F1, all labels | | " + " | ".join(f"{v['macro_f1_all_labels']:.3f}"
                                                        for v in out["layers"].values()) + " |")
    payload = {"machine": machine(), "synthetic": out}
    write_results(f"discourse-synthetic-{args.posts}-s{args.seed}-{'-'.join(layers)}", payload, "\n".join(md) + "\n")
    print("\n".join(md))


def advice(args: argparse.Namespace) -> None:
    from forumscope.discourse.evaluate import evaluate_advice

    import torch

    torch.set_num_threads(args.threads)  # MiniLM encoding and fine-tuning
    layers = tuple(args.layers.split(","))
    res = evaluate_advice(SHARED / "advice-reddit", layers=layers, embedding_modes=("head", "similarity"),
                          seed=args.seed, progress=lambda m: print(m, file=sys.stderr, flush=True),
                          finetune={"epochs": args.epochs, "context": not args.no_context},
                          combine=[c.split("+") for c in args.combine.split(",") if c], keep_scores=True)
    import numpy as np

    scores = res.pop("_scores")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE / f"{args.name.replace('discourse-', '')}-scores.npz", **{f"{n}|{s}": v[s] for n, v in scores.items() for s in ("dev", "test")})
    md = ["# Discourse: advice-reddit (train on train, threshold tuned on dev, test reported)", "",
          "| layer | threshold | dev macro-F1 | test macro-F1 | advice P | advice R | advice F1 | askparents "
          "macro-F1 | needadvice macro-F1 | test sentences/s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, v in res.items():
        if name.startswith("_"):
            continue
        p = v["test"]["pooled"]
        md.append(f"| {name} | {v['threshold']:.2f} | {v['dev_macro_f1']:.3f} | {p['macro_f1']:.3f} | "
                  f"{p['precision']:.2f} | {p['recall']:.2f} | {p['f1']:.3f} | "
                  f"{v['test']['askparents']['macro_f1']:.3f} | {v['test']['needadvice']['macro_f1']:.3f} | "
                  f"{v['test_texts_per_second']:,.0f} |")
    tuned = [(n, v) for n, v in res.items() if n.startswith("finetune")]
    if tuned:
        v = tuned[0][1]
        md += ["", f"Fine-tuning ({v['model']}), torch threads: {args.threads}: {v['train_seconds']:,.0f} s "
               f"for {v['epochs']} epoch(s) including the dev evaluation after each, "
               f"{v['train_texts_per_second']:,.1f} training sentences/s; dev macro-F1 per epoch "
               + ", ".join(f"{m:.3f}" for m in v["dev_macro_f1_per_epoch"]) + f"; epoch {v['best_epoch']} kept."]
    payload = {"machine": machine(), "threads": args.threads, "seed": args.seed, "advice": res}
    write_results(args.name + (f"-seed{args.seed}" if args.seed else ""), payload, "\n".join(md) + "\n")
    print("\n".join(md))


def stackexchange(args: argparse.Namespace) -> None:
    import forumscope
    from forumscope.discourse.evaluate import stackexchange_report
    from forumscope.pipeline.runner import run_steps

    out = {}
    for site in args.sites.split(","):
        case = CACHE / f"case-discourse-{site}"
        if not (case / "case.toml").exists():
            forumscope.ingest_sources([SHARED / site], case)
        with forumscope.open_case(case) as c:
            run = run_steps(c, ["discourse"], {"discourse": {"codebook": "advice", "languages": ("en",),
                                                             "layers": tuple(args.layers.split(","))}})[0]
            names = [r[0] for r in c.con.execute("SELECT layer FROM discourse_layers WHERE run_id = ? "
                                                 "ORDER BY rowid", [run.run_id]).fetchall()]
            out[site] = {n: stackexchange_report(c, layer=n, run_id=run.run_id) for n in names}
    md = ["# Discourse: Stack Exchange questions vs answers (weak label)", "",
          "| site | layer | posts | help_request on questions P / R | help_request on answers (share) | "
          "advice on answers P / R | advice on questions (share) |", "|---|---|---|---|---|---|---|"]
    for site, by_layer in out.items():
        for name, r in by_layer.items():
            h, a = r["help_request_predicts_question"], r["advice_predicts_answer"]
            help_on_answers = (h["recall"] * r["questions"] / h["precision"] - h["recall"] * r["questions"]) / \
                r["answers"] if h["precision"] else 0.0
            advice_on_q = (a["recall"] * r["answers"] / a["precision"] - a["recall"] * r["answers"]) / \
                r["questions"] if a["precision"] else 0.0
            md.append(f"| {site} | {name} | {r['posts']:,} | {h['precision']:.2f} / {h['recall']:.2f} | "
                      f"{help_on_answers:.2f} | {a['precision']:.2f} / {a['recall']:.2f} | {advice_on_q:.2f} |")
    payload = {"machine": machine(), "stackexchange": out}
    write_results("discourse-stackexchange", payload, "\n".join(md) + "\n")
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--posts", type=int, default=100_000)
    s.add_argument("--minilm-posts", type=int, default=2000)
    s.add_argument("--batch", type=int, default=128)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--no-step", action="store_true")
    s.set_defaults(func=speed)
    s = sub.add_parser("synthetic")
    s.add_argument("--posts", type=int, default=5000)
    s.add_argument("--seed", type=int, default=21)
    s.add_argument("--layers", default="rules,fast")
    s.set_defaults(func=synthetic)
    s = sub.add_parser("advice")
    s.add_argument("--layers", default="rules,fast,fast-context,embedding,finetune")
    s.add_argument("--name", default="discourse-advice", help="results file name (before the date)")
    s.add_argument("--threads", type=int, default=1, help="torch threads (MiniLM, fine-tuning)")
    s.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs (the best on dev is kept)")
    s.add_argument("--no-context", action="store_true", help="fine-tune without sentence context")
    s.add_argument("--seed", type=int, default=0, help="seed of the trained layers (head init, batch order, dropout)")
    s.add_argument("--combine", default="finetune-context+fast,finetune-context+embedding,"
                   "finetune-context+embedding+fast", help="layer groups to combine (mean), comma-separated")
    s.set_defaults(func=advice)
    s = sub.add_parser("stackexchange")
    s.add_argument("--sites", default="se-cardano,se-bicycles-meta")
    s.add_argument("--layers", default="rules,fast")
    s.set_defaults(func=stackexchange)
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args.func(args)


if __name__ == "__main__":
    main()
