"""Reports of a study's results: the tables, which method wins (and which cannot be told apart), report.md.

Tables give each (setting, method) the sample standard deviation and a 95% interval over repetitions
(inside [0, 1]), and each method's paired difference from the baseline with its p-value and the
Benjamini-Hochberg adjusted one over the table (imbalance_jax.statistics). Below statistics.MIN_N
repetitions there is no interval and no test.
"""
import math
from collections import defaultdict

import numpy as np

from imbalance_jax import conclusions, longtail_metrics, methods, recommendation, statistics
from imbalance_jax import figures as figs
from imbalance_jax.method_labels import TABLE_NOTE, method_label
from imbalance_jax.results import (MIN_TEST_IMAGES, keeps_ranking, method_order, partial_sampling, selected,
                                   setting_label, trained, typed, write_text)
from imbalance_jax.workdir import Workdir


def pair_key(row: dict) -> tuple:
    """What pairs two methods' rows: the split and repetition (a shared imbalanced set and initial weights)."""
    return (str(row.get("split") or 0), str(row.get("repetition", 0)))


def mean_by_setting(rows: list[dict]) -> dict:
    """{(setting, method): {'n', 'auc', 'auc_sd', 'auc_ci', 'accuracy', 'by_pair'}} over repetitions."""
    groups = defaultdict(list)
    for row in rows:
        groups[(setting_label(row), row["method"])].append(row)
    out = {}
    for key, group in groups.items():
        auc = statistics.describe([float(r["auc"]) for r in group])
        out[key] = {"n": auc.n, "auc": auc.mean, "auc_sd": auc.sd, "auc_ci": (auc.ci_low, auc.ci_high),
                    "accuracy": float(np.mean([float(r["accuracy"]) for r in group])),
                    "by_pair": {pair_key(r): float(r["auc"]) for r in group}}
    return out


def _sorted_keys(rows, means):
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    order = method_order(rows)
    return sorted(means, key=lambda k: (settings.index(k[0]), order.index(k[1])))


def _sd(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def too_few_note(rows: list[dict]) -> str:
    """A line saying what a study below statistics.MIN_N repetitions cannot show, and how to grow it; '' otherwise."""
    counts = [v["n"] for v in mean_by_setting(rows).values()]
    if not counts or min(counts) >= statistics.MIN_N:
        return ""
    where = "every setting" if max(counts) < statistics.MIN_N else "some settings"
    return (f"n < {statistics.MIN_N} in {where}: no interval and no test there (a test needs "
            f"{statistics.MIN_N} repetitions; grow the study with --config.imbalance.repetitions={statistics.MIN_N} "
            "to train only the new ones).")


def baseline_differences(rows: list[dict]) -> dict:
    """{(setting, method): Paired} of each trained method minus the baseline of its setting (the thresholded
    twins keep their network's AUC and are left out)."""
    means = mean_by_setting(rows)
    out = {}
    for (setting, method), m in means.items():
        base = means.get((setting, methods.with_role(methods.NO_REMEDY)))
        if base is not None and method != methods.with_role(methods.NO_REMEDY) and not keeps_ranking(method):
            out[(setting, method)] = statistics.paired(m["by_pair"], base["by_pair"])
    return out


SUMMARY_CAPTION = (
    "ROC AUC per setting and method: mean, sample sd and 95% interval over n repetitions (a t interval on the "
    "logit scale, inside [0, 1]); minus baseline: the paired difference over repetitions with its 95% interval "
    "(inside [-1, 1]) and two-sided paired t-test, p (BH): Benjamini-Hochberg adjusted over the table's tests. "
    "Thresholded methods keep their network's ROC AUC, so they have no difference of their own.")


def summary_table(rows: list[dict]) -> str:
    """Markdown table per imbalance setting and method: ROC AUC mean, sample sd, 95% interval, the paired
    difference from the baseline with its p-value (raw and Benjamini-Hochberg adjusted), and accuracy."""
    diverged = sum(not trained(r) for r in rows)
    rows = [r for r in rows if selected(r) and trained(r)]
    if not rows:
        return (f"No network trained to the end: all {diverged} diverged (their loss or weights stopped being "
                "finite); report.md lists them. Try a lower --config.train.base_lr.")
    means = mean_by_setting(rows)
    versus = baseline_differences(rows)
    keys = list(versus)
    adjusted = dict(zip(keys, statistics.benjamini_hochberg([versus[k].p_value for k in keys])))
    lines = ["| method | setting | config name | n | ROC AUC | sd | 95% CI | minus baseline (paired) [95% CI] | p | "
             "p (BH) | accuracy |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for key in _sorted_keys(rows, means):
        m = means[key]
        diff, p, p_bh = "", "", ""
        if key in versus:
            d = versus[key]
            diff = f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)}"
            p, p_bh = statistics.format_p(d.p_value), statistics.format_p(adjusted[key])
        lines.append(f"| {method_label(key[1])} | {key[0]} | {key[1]} | {m['n']} | {m['auc']:.4f} | "
                     f"{_sd(m['auc_sd'])} | {statistics.format_interval(*m['auc_ci'])} | {diff} | {p} | {p_bh} | "
                     f"{m['accuracy']:.4f} |")
    note = too_few_note(rows)
    return "\n".join([SUMMARY_CAPTION + (" " + note if note else "") + " " + TABLE_NOTE, "", *lines])


def method_table(rows: list[dict]) -> str:
    """Table 4's layout: a row per method, a column per setting, mean ROC AUC x 100."""
    means = mean_by_setting(rows)
    settings = list(dict.fromkeys(setting_label(r) for r in rows))
    methods = [m for m in method_order(rows) if any((s, m) in means for s in settings)]
    lines = ["| method | config name | " + " | ".join(settings) + " |", "|---" * (len(settings) + 2) + "|"]
    for m in methods:
        cells = [f"{100 * means[(s, m)]['auc']:.2f}" if (s, m) in means else "" for s in settings]
        lines.append(f"| {method_label(m)} | {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def winners(rows: list[dict], margin: float = conclusions.DEFAULT_MARGIN) -> list[str]:
    """Per setting: the method with the best mean AUC wins only if its paired lead over every other method is
    significant after Holm's correction over the setting's comparisons; otherwise the methods it cannot be told
    apart from are named, and those shown equivalent within +-margin (90% interval) are said to be."""
    means = mean_by_setting(rows)
    lines = []
    for setting in dict.fromkeys(setting_label(r) for r in rows):
        # Thresholding never changes AUC, so thresholded twins are left out of the ranking.
        ranked = sorted(((m, v) for (s, m), v in means.items() if s == setting and not keeps_ranking(m)),
                        key=lambda mv: -mv[1]["auc"])
        if not ranked:
            continue
        best, stats = ranked[0]
        best = method_label(best)
        text = f"- **{setting}**: "
        lead = [(m, statistics.paired(stats["by_pair"], v["by_pair"])) for m, v in ranked[1:]]
        n = min([d.n for _, d in lead], default=stats["n"])
        if not lead:
            lines.append(text + f"{best} alone, ROC AUC {stats['auc']:.4f} (n={stats['n']}).")
            continue
        if n < statistics.MIN_N:
            runner, d = lead[0]
            lines.append(text + f"no test at n={n} (a test needs {statistics.MIN_N} repetitions): {best} has the "
                         f"highest mean ROC AUC ({stats['auc']:.4f}), then {method_label(runner)} "
                         f"({-d.mean_difference:+.4f}).")
            continue
        adjusted = statistics.holm([d.p_value for _, d in lead])
        apart = [(m, d, p) for (m, d), p in zip(lead, adjusted) if not p < statistics.ALPHA]
        if not apart:
            runner, d = lead[0]
            text += (f"{best} wins with ROC AUC {stats['auc']:.4f} (n={stats['n']}), {d.mean_difference:+.4f} over "
                     f"{method_label(runner)} (Holm p={statistics.format_p(adjusted[0])})")
        else:
            close = []
            for m, d, p in apart:
                wide = statistics.paired(stats["by_pair"], means[(setting, m)]["by_pair"], level=0.90)
                kind = f"equivalent within +-{margin:g}" if statistics.within(wide, margin) else "not distinguishable"
                close.append(f"{method_label(m)} ({-d.mean_difference:+.4f}, Holm p={statistics.format_p(p)}, {kind})")
            text += (f"no single winner at n={n}: {best} has the highest mean ROC AUC ({stats['auc']:.4f}) but is "
                     "not ahead of " + ", ".join(close))
        lines.append(text + ".")
    return lines


def split_section(rows: list[dict]) -> list[str]:
    """report.md lines with Table 4's layout for each train/test split, when the study has several."""
    splits = sorted({int(r.get("split") or 0) for r in rows})
    if len(splits) < 2:
        return []
    lines = ["## Per train/test split (Appendix A)", "",
             f"The study trained every network on {len(splits)} train/test splits: split 0 is the dataset's own, "
             "each other a seeded, stratified re-draw of the pooled train and test sets. Every other table and "
             "figure pools the splits (n counts repetitions x splits; methods are paired within a split and "
             "repetition).", ""]
    for split in splits:
        lines += [f"### Split {split}", "", method_table([r for r in rows if int(r.get("split") or 0) == split]), ""]
    return lines


def section43_table(rows: list[dict]) -> str:
    """Section 4.3: linear imbalance against step imbalance at mu = 0.5 and the same rho (training sets
    of the same size), per method: mean ROC AUC, training-set size, and their difference (Welch's interval
    and test, Benjamini-Hochberg adjusted over the table)."""
    step = [r for r in rows if r["imbalance"] == "step" and r["mu"] is not None and abs(float(r["mu"]) - 0.5) < 1e-9]
    linear = [r for r in rows if r["imbalance"] == "linear"]
    rhos = sorted({float(r["rho"]) for r in step} & {float(r["rho"]) for r in linear})
    found = []
    for rho in rhos:
        for method in method_order(step + linear):
            if keeps_ranking(method):  # thresholded: its network's ROC AUC, the same test again
                continue
            a = [r for r in linear if float(r["rho"]) == rho and r["method"] == method]
            b = [r for r in step if float(r["rho"]) == rho and r["method"] == method]
            if a and b:
                found.append((rho, method, a, b, statistics.unpaired([float(r["auc"]) for r in a],
                                                                     [float(r["auc"]) for r in b])))
    if not found:
        return ""
    adjusted = statistics.benjamini_hochberg([d.p_value for *_, d in found])
    lines = ["| method | rho | config name | step mu=0.5 ROC AUC (n) | linear ROC AUC (n) | train size step / linear "
             "| linear - step [95% CI] | p | p (BH) |", "|---|---|---|---|---|---|---|---|---|"]
    size = lambda rs: f"{np.mean([float(r['train_size']) for r in rs]):,.0f}"  # noqa: E731
    for (rho, method, a, b, d), p_bh in zip(found, adjusted):
        lines.append(f"| {method_label(method)} | {rho:g} | {method} | "
                     f"{np.mean([float(r['auc']) for r in b]):.4f} ({len(b)}) | "
                     f"{np.mean([float(r['auc']) for r in a]):.4f} ({len(a)}) | {size(b)} / {size(a)} | "
                     f"{d.mean_difference:+.4f} {statistics.format_interval(d.ci_low, d.ci_high)} | "
                     f"{statistics.format_p(d.p_value)} | {statistics.format_p(p_bh)} |")
    return "\n".join(lines)


def minority_table(per_class: list[dict]) -> str:
    """Markdown table per imbalance shape and method: mean recall of minority and of majority classes."""
    rows = figs.recall_by_group(per_class)
    lines = ["| method | imbalance | config name | networks | minority recall | majority recall | "
             "majority - minority |", "|---|---|---|---|---|---|---|"]
    for kind in dict.fromkeys(r["imbalance"] for r in rows):
        for method in method_order([r for r in rows if r["imbalance"] == kind]):
            sel = [r for r in rows if r["imbalance"] == kind and r["method"] == method]
            if sel:
                low, high = (float(np.mean([r[k] for r in sel])) for k in ("minority_recall", "majority_recall"))
                lines.append(f"| {method_label(method)} | {kind} | {method} | {len(sel)} | {low:.4f} | {high:.4f} | "
                             f"{high - low:+.4f} |")
    return "\n".join(lines)


def shot_bounds_lines(per_class: list[dict]) -> list[str]:
    """report.md lines: per imbalance setting, the bounds its networks' classes were grouped by and how many
    classes fell in each group (each distinct grouping once, with its number of networks when they differ)."""
    found = defaultdict(lambda: defaultdict(set))
    for s in longtail_metrics.network_shots([r for r in per_class if selected(r)]):
        grouping = (s.bounds.describe(), tuple(s.classes[g] for g in longtail_metrics.GROUPS))
        found[setting_label(s.first)][grouping].add(s.network)
    lines = []
    for setting, groupings in found.items():
        parts = [f"{bounds}: {many} many-, {medium} medium-, {few} few-shot classes"
                 + (f" ({len(networks)} networks)" if len(groupings) > 1 else "")
                 for (bounds, (many, medium, few)), networks in groupings.items()]
        lines.append(f"- {setting}: " + "; ".join(parts))
    return lines


def shot_table(per_class: list[dict]) -> str:
    """Markdown table per imbalance setting and method: mean recall of the many-, medium- and few-shot classes
    over the networks (each network's mean over its group's classes) with its 95% interval; empty where the
    setting has no class in a group."""
    groups = defaultdict(list)
    for s in longtail_metrics.network_shots([r for r in per_class if selected(r)]):
        groups[(setting_label(s.first), s.method)].append(s.recall)
    lines = ["| method | setting | config name | networks | many-shot recall [95% CI] | medium-shot recall [95% CI] "
             "| few-shot recall [95% CI] |", "|---|---|---|---|---|---|---|"]
    settings = list(dict.fromkeys(k[0] for k in groups))
    order = method_order([{"method": m} for _, m in groups])
    for setting, method in sorted(groups, key=lambda k: (settings.index(k[0]), order.index(k[1]))):
        found = groups[(setting, method)]
        cells = []
        for g in longtail_metrics.GROUPS:
            values = [r[g] for r in found if r[g] is not None]
            d = statistics.describe(values) if values else None
            cells.append(f"{d.mean:.4f} {statistics.format_interval(d.ci_low, d.ci_high)}" if d else "")
        lines.append(f"| {method_label(method)} | {setting} | {method} | {len(found)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def shot_section(per_class: list[dict], workdir: str) -> list[str]:
    """report.md's section on many-, medium- and few-shot recall, with the recall-against-training-count
    figure written into workdir; [] when per_class.csv holds no recall."""
    if not longtail_metrics.network_shots([r for r in per_class if selected(r)]):
        return []
    lines = ["## Many-, medium- and few-shot recall", "",
             "Each network's classes grouped by their training counts (before sampling) as the long-tail "
             "literature reports accuracy; the bounds, and how many classes fell in each group:", "",
             *shot_bounds_lines(per_class), "",
             "Recall is each network's mean over the group's classes; the table gives the mean over networks with "
             "its 95% interval (results.csv: many_shot_recall, medium_shot_recall, few_shot_recall; per_class.csv: "
             "shot).", "", shot_table(per_class), "", *few_test_images_lines(per_class)]
    title = figs.recall_vs_count_figure(per_class, Workdir(workdir).file("fig_recall_vs_train_count.png"))
    if title:
        lines += [f"![{title}](fig_recall_vs_train_count.png)", ""]
    return lines


def few_test_images_lines(per_class: list[dict]) -> list[str]:
    """report.md lines naming each class with too few test images for a per-class metric (per split)."""
    few = sorted({(int(r.get("split") or 0), int(r["class"]), r.get("class_name") or r["class"], int(r["test_count"]))
                  for r in per_class if str(r.get("test_count", "")).strip() not in ("", "None")
                  and int(r["test_count"]) < MIN_TEST_IMAGES})
    return [f"- class {c} ({name}){f', split {k}' if k else ''}: {n} test image{'s' if n != 1 else ''}: no recall, "
            f"precision or one-vs-rest AUC for it, and no part in its group's mean (a per-class metric needs "
            f"{MIN_TEST_IMAGES})" for k, c, name, n in few] + ([""] if few else [])


def class_table(per_class: list[dict]) -> str:
    """Markdown table per class (by name) and method: mean recall over the networks where the class was a
    minority class and where it was a majority class (the paper's classes are named by the dataset)."""
    groups = defaultdict(lambda: ([], []))
    for r in per_class:
        if selected(r) and r.get("recall") not in ("", None):
            name = r.get("class_name") or r["class"]
            side = 0 if str(r["minority"]) == "1" else 1
            groups[(int(r["class"]), name, r["method"])][side].append(float(r["recall"]))
    lines = ["| class | method | recall as a minority class (networks) | recall as a majority class (networks) |",
             "|---|---|---|---|"]
    order = method_order([{"method": m} for _, _, m in groups])
    for (_, name, method), (low, high) in sorted(groups.items(), key=lambda kv: (kv[0][0], order.index(kv[0][2]))):
        cell = lambda v: f"{np.mean(v):.4f} ({len(v)})" if v else ""  # noqa: E731
        lines.append(f"| {markdown_cell(name)} | {method_label(method)} | {cell(low)} | {cell(high)} |")
    return "\n".join(lines)


def study_statistic(workdir: str, key: str, default: float) -> float:
    """A statistics.<key> of the workdir's config (margin, target_difference), or the default."""
    saved = Workdir(workdir).saved_config_json() or {}
    value = (saved.get("statistics") or {}).get(key)
    return default if value is None else float(value)


def markdown_cell(text) -> str:
    """A value as one cell of a Markdown table: its '|' escaped, its line breaks as spaces."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def study_margin(workdir: str) -> float:
    """The equivalence margin of the workdir's config (statistics.margin), or the default."""
    return study_statistic(workdir, "margin", conclusions.DEFAULT_MARGIN)


def power_lines(rows: list[dict]) -> list[str]:
    """report.md lines: per family of comparisons, the smallest difference detectable at 80% power with the
    study's own spread and n (two-sided t-test at ALPHA, before the multiplicity correction)."""
    out = []
    within = [d for d in baseline_differences(rows).values() if d.n >= statistics.MIN_N and d.sd > 0]
    if within:
        sd, n = float(np.median([d.sd for d in within])), int(np.median([d.n for d in within]))
        out.append(f"- a method against the baseline in one setting (the tables, the winners): median sd of the paired "
                   f"differences {sd:.4f} at n={n} repetitions: {statistics.detectable_difference(sd, n):.4f} ROC AUC")
    imbalanced = [r for r in rows if r["imbalance"] != "balanced" and not partial_sampling(r["method"])]
    table = conclusions.values(imbalanced, "auc")  # conclusion 1's comparisons: the full methods
    ros = methods.with_role(methods.ROS)
    others = [m for m in table if m != ros and not keeps_ranking(m) and ros in table]
    pooled = [conclusions.pool(conclusions.differences(table, ros, m)) for m in others]
    pooled = [p for p in pooled if p is not None and not p.few and p.unit == "setting"]
    if pooled:
        k, family = max(len(p.units) for p in pooled), len(pooled)
        need = statistics.sign_units_needed(family)
        most = next((x for x in range(k + 1) if family * statistics.sign_test([1.0] * x + [-1.0] * (k - x))
                     < statistics.ALPHA), None) if k >= statistics.MIN_N else None
        out.append(f"- 'in most settings' (conclusions 1 and 3: a one-sided sign test over the settings, Holm over "
                   f"{family} comparisons): " + (f"significant only where at least {most} of the {k} settings go one "
                                                 "way" if most is not None else
                                                 f"no outcome of {k} settings is significant; it takes {need}"))
    if not out:
        return []
    return ["## What this study can detect", "",
            "Within a setting, the smallest mean difference a two-sided paired t-test at 0.05 finds with 80% power, "
            "given the spread and n measured here (`launch.plan --config.statistics.target_difference=D` says how "
            "many repetitions a difference D needs); pooled over settings, how many settings a 'most settings' claim "
            "needs:", "", *out, ""]


def machines(workdirs: list) -> list[str]:
    """The devices the studies in workdirs ran on, in order of first use, from their runs.json records."""
    return list(dict.fromkeys(run["devices"] for workdir in workdirs for run in Workdir(workdir).runs()))


def in_flight_note(workdir: str) -> str:
    """A line saying a run is using the workdir (its tables may be rewritten when it ends); '' when none is."""
    holder = Workdir(workdir).run_in_flight()
    if holder is None:
        return ""
    return (f"A run (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('started', '?')}) "
            f"is using {workdir}: this report is of the results written before it; run launch.report again when it "
            "ends.")


def header(rows: list[dict], margin: float, ran_on: list = ()) -> list[str]:
    """report.md's title and how to read every number in it; ran_on: the devices its runs used."""
    datasets = sorted({r["dataset"] for r in rows})
    samples = "repetitions and train/test splits" if any(int(r.get("split") or 0) for r in rows) else "repetitions"
    iterations = sorted({str(r.get("iterations", "")) for r in rows} - {""}, key=lambda v: float(v))
    counts = [v["n"] for v in mean_by_setting(rows).values()]
    protocol = (f"{', '.join(f'{float(i):,.0f}' for i in iterations)} iterations, " if iterations else "") + (
        f"{min(counts)} to {max(counts)} {samples} per setting and method" if counts and min(counts) != max(counts)
        else f"{counts[0] if counts else 0} {samples} per setting and method")
    return [f"# Class imbalance study: {', '.join(datasets)}", "",
            f"{len(rows)} results of {len({r['network'] for r in rows})} trained networks; {protocol}" +
            (f"; run on {' and '.join(ran_on)}." if ran_on else "."), "",
            f"How to read the numbers: each is a mean over {samples} (n) with the sample standard deviation and a 95% "
            "t interval on the logit scale of the metric's range (so inside [0, 1]; differences inside [-1, 1]). "
            f"Below {statistics.MIN_N} repetitions there is no interval and no test. Methods are compared on the "
            f"same repetitions (a shared imbalanced set and initial weights) by a {statistics.TEST_NAME}. Pooled "
            "over settings, the setting is the unit (each setting's mean paired difference, then a test across "
            "settings), since networks of one setting share its imbalance. Each family of tests is corrected: "
            "Benjamini-Hochberg over a table's tests, Holm over a setting's winner comparisons and over each "
            "conclusion's comparisons; adjusted p-values are shown beside the raw ones. A verdict needs positive "
            f"evidence: 'on a par' needs a 90% interval inside +-{margin:g} (two one-sided tests at 0.05); 'not worse "
            "by more than the margin' (conclusions 4 and 5) needs the one bound that matters beyond it (a one-sided "
            "non-inferiority test at 0.05); each claim prints the p-value of the test that decided it. A difference "
            "that is not significant is 'not distinguishable', never a tie, and a claim no outcome of the study's "
            "size could show reads 'cannot be tested', with what it would need.", ""]


def write_report(workdir: str, margin: float = None, ran_on: list = None) -> str:
    """Turns workdir/results.csv into workdir/report.md and PNG figures; returns the report's path. ran_on: the
    devices its runs used (default: those in workdir/log.txt)."""
    study = Workdir(workdir).tables
    every_row = study.results()
    per_class, curve_rows = study.per_class(every_row), study.curves(every_row)  # checked before anything is drawn
    rows = typed(every_row)
    margin = study_margin(workdir) if margin is None else margin
    flight = in_flight_note(workdir)
    if not rows:  # every network diverged: nothing to compare, only what happened
        report = Workdir(workdir).file("report.md")
        write_text(report, "\n".join(["# Class imbalance study", "", *([flight, ""] if flight else []),
                                       "No network trained to the end: every network diverged. Try a lower "
                                       "--config.train.base_lr.", "", *diverged_section(every_row)]))
        return report
    made = figs.figures(rows, workdir)
    if curve_rows is not None:
        title = figs.fig8(curve_rows, Workdir(workdir).file("fig8_convergence.png"))
        if title:
            made["fig8_convergence.png"] = title
    reference = conclusions.balanced_reference(rows)
    ran_on = machines([workdir]) if ran_on is None else ran_on
    as_is = recommendation.section(rows, study_statistic(workdir, "target_difference", 0.01))
    paper = ["## The paper's conclusions, checked (Section 5)", "",
             "Each conclusion split into its claims, each claim with the study's evidence and a verdict: 'holds' "
             "where the study shows it, 'does not hold' where it shows the opposite, 'not significant' where it "
             "can tell neither, 'not in this study' where a method or setting it needs is absent.", "",
             *([reference, ""] if reference else []),
             *conclusions.section(rows, curve_rows, margin), ""] if not as_is else [
        "The paper's five conclusions are about imbalance imposed on a balanced dataset; this study is of the data "
        "as it is, so the section above answers its question instead.", ""]
    lines = [*header(rows, margin, ran_on), *([flight, ""] if flight else []),
             *(as_is or ["## Which method wins", "", *winners(rows, margin), ""]),
             *paper,
             *power_lines(rows),
             "## Mean multi-class ROC AUC x 100 (Table 4's layout)", "",
             "Thresholded methods rank the test images as their network does, so their ROC AUC is their "
             "network's.", "", method_table(rows), ""]
    lines += split_section(rows)
    comparison = section43_table(rows)
    if comparison:
        lines += ["## Linear against step imbalance at equal rho (Section 4.3)", "",
                  "Step imbalance with mu = 0.5 and linear imbalance hold the same number of training images at "
                  "the same rho; the difference is linear minus step (Welch's 95% interval and test; the two "
                  "imbalances' networks are not paired), Benjamini-Hochberg adjusted over the table's distinct tests "
                  "(thresholded methods rank as their network does, so they are not repeated).", "",
                  comparison, ""]
    lines += ["## Figures", ""]
    for file, title in figs.in_paper_order(made).items():
        lines += [f"### {title}", "", f"![{title}]({file})", ""]
    if per_class is not None:
        title = figs.minority_recall_figure(per_class, Workdir(workdir).file("fig_minority_recall.png"))
        if title:
            lines += ["## What happens to the minority classes", "",
                      "Mean recall over each network's minority classes and over its majority classes "
                      "(per_class.csv has every class of every network: its training count, recall, precision "
                      "and one-vs-rest AUC).", "", minority_table(per_class), "",
                      f"![{title}](fig_minority_recall.png)", "", "Each class by name: its recall where it was a "
                      "minority class and where it was a majority class, per method.", "", class_table(per_class), ""]
        lines += shot_section(per_class, workdir)
    lines += ["## All settings", "", summary_table(rows), ""]
    lines += diverged_section(every_row)
    report = Workdir(workdir).file("report.md")
    write_text(report, "\n".join(lines))
    return report


def diverged_section(every_row: list[dict]) -> list[str]:
    """report.md lines listing the networks that diverged (kept out of every mean and figure), from every row of
    results.csv."""
    gone = sorted({(r["network"], r["diverged"]) for r in every_row if not trained(r)})
    if not gone:
        return []
    return ["## Diverged networks", "", f"{len(gone)} networks stopped having a finite loss or finite weights; "
            "their rows in results.csv carry the step (column `diverged`) and no metrics, and no mean, table or "
            "figure includes them.", "", *[f"- {name}: step {step}" for name, step in gone], ""]
