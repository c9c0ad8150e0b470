"""The GPU check's readable summary (printed, and written as a .md beside the JSON)."""

from __future__ import annotations

from benchmarks.gpu_check.schema import Check, Precision, RayStudy, TaskCheck, Tests


def verdict(ok: bool | None) -> str:
    return "not run" if ok is None else "ok" if ok else "FAILED"


def amount(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def task_lines(t: TaskCheck) -> list[str]:
    r, res, two, s = t.run, t.resume, t.two_trials, t.speed
    memory = (f"{amount(two.memory_before)} -> {amount(two.memory_between)} -> {amount(two.memory_after)} bytes, "
              f"{'back' if two.memory_back else 'NOT back'}" if two.memory_back is not None else two.memory_reason)
    differing = "differs: " + ", ".join(res.deterministic_differing)
    det = f"deterministic: {'exact' if res.deterministic_exact else differing}"
    lines = [f"### {t.study}: {verdict(t.ok)}", "", f"- data: {t.data}; config: {t.config}",
             (f"- run on {r.device}: {r.epochs} epochs, {r.train_s:.2f} s of training, {amount(r.throughput)} "
             f"{r.unit}/s, test loss {r.test_loss:.6g}"),
             (f"- resume after a kill at epoch {res.killed_at}: "
             f"{'exact' if res.exact else 'differs in ' + ', '.join(res.differing)}; {det}; ops without a "
             f"deterministic implementation: {', '.join(res.nondeterministic_ops) or 'none'}"),
             f"- two trials in one process: memory {memory}; the second "
             f"{'equals' if two.second_equals_fresh else 'DIFFERS from'} a fresh process's"
             + ("" if two.second_equals_fresh else f" ({', '.join(two.differing)})"),
             f"- speed: {amount(s.throughput)} {s.unit}; this CPU: {amount(s.cpu_figure)} ({s.cpu_source})"
             + (f"; {s.ratio:.2f}x" if s.ratio is not None else "")]
    lines += [precision_line(p) for p in t.precisions]
    return lines + [""]


def precision_line(p: Precision) -> str:
    if p.ran is None:
        return f"- {p.dtype}: not run ({p.reason})"
    return (f"- {p.dtype} (ran {p.ran}): {amount(p.throughput)}/s, {p.speedup:.2f}x float32; test loss "
            f"{p.test_loss:.6g} against {p.float32_test_loss:.6g} ({p.loss_change:+.3g})")


def tests_line(t: Tests) -> str:
    if not t.ran:
        return f"- `pytest -m gpu`: not run ({t.reason})"
    return (f"- `pytest -m gpu`: {t.passed} passed, {t.failed} failed, {t.errors} errors, {t.skipped} skipped "
            f"(`{t.command}`)")


def ray_lines(r: RayStudy) -> list[str]:
    if not r.ran:
        return [f"- Ray study at `--gpus-per-trial 0.5`: not run ({r.reason})"]
    return [(f"- Ray study at `--gpus-per-trial 0.5`: {verdict(r.ok)}: {r.trials} trials on {', '.join(r.devices)}, "
            f"most at once per GPU id {r.most_per_gpu} (`{r.command}`)"), "", r.placement]


def markdown(c: Check) -> str:
    head = [f"# GPU check: {verdict(c.ok)}", "",
            (f"{c.date}; `{c.command}`; device {c.device} ({c.device_name}); Python {c.python}, torch {c.torch}, "
            f"CUDA {c.cuda or '–'}; sizes {c.sizes}; {c.wall_s:.1f} s"), ""]
    body = [line for t in c.tasks for line in task_lines(t)]
    return "\n".join([*head, *body, "### Tests and Ray", "", tests_line(c.tests), *ray_lines(c.ray), ""])
