"""The GPU check: every CUDA path of the three tasks in one command, a JSON file and a summary.

    python benchmarks/gpu_check.py                     # on a GPU machine: under 8 minutes (docs/gpu.md)
    python benchmarks/gpu_check.py --device cpu        # anywhere: tiny sizes, seconds

For q1, q2 and q3 (q3 fine-tuning a BERT it builds offline), through the shared trial loop without Ray:
a short run on the device; a run killed and resumed from its checkpoint, whose final numbers must be the
uninterrupted run's bit for bit (again with ``deterministic=True``, listing the ops that have no
deterministic implementation); ``--amp`` in float16 and bfloat16 (on a CPU, bfloat16 where q2's probe
says the CPU computes it), their speed and test loss against float32; two trials in one process, CUDA
memory back to its level before the first and the second's numbers those of a fresh process; throughput
against this CPU's figure in benchmarks/RESULTS.md. Then ``pytest -m gpu`` and, where Ray and Optuna
import, a q1 smoke study at ``--gpus-per-trial 0.5`` with at most two trials on a GPU at once. A part
that cannot run here is recorded with the reason. Exit status 0 when everything that ran is ok.

Writes ``OUT/gpu_check.json`` (``benchmarks/gpu_check/schema.py: Check``) and ``OUT/gpu_check.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
JSON_FILE, SUMMARY_FILE = "gpu_check.json", "gpu_check.md"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="auto: CUDA where there is a GPU; cpu hides the GPUs (CUDA_VISIBLE_DEVICES='')")
    p.add_argument("--sizes", choices=("gpu", "tiny"), help="gpu: the benchmark's sizes (default with CUDA); tiny: "
                   "seconds (default on a CPU)")
    p.add_argument("--studies", default="q1,q2,q3", help="comma-separated, of q1, q2, q3")
    p.add_argument("--out", default="results/gpu_check", help="folder for the JSON file and the summary")
    p.add_argument("--fresh", help=argparse.SUPPRESS)  # internal: trial B of STUDY in this new process
    return p.parse_args(argv)


def fresh_runner(args: argparse.Namespace, sizes: str, work: Path):
    """STUDY -> trial B's numbers from a new process (this script with ``--fresh``)."""
    def fresh(study: str) -> dict:
        cmd = [sys.executable, __file__, "--fresh", study, "--device", args.device, "--sizes", sizes,
               "--out", str(work)]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the fresh process for {study} failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    return fresh


def check_task(spec, device, sizes: str, work: Path, fresh):
    from benchmarks.gpu_check import schema, trials
    from trainables.common import runtime

    folder = work / spec.study
    plain = trials.run(spec, spec.config, folder / "run")
    resumed = trials.resume(spec, plain, folder / "resume")
    precisions = tuple(trials.precision(spec, dtype, device, plain, folder / "amp")
                       for dtype in (runtime.FLOAT16, runtime.BFLOAT16))
    two = trials.two_trials(spec, device, folder / "two", fresh)
    ok = (plain.device == device.type and (resumed.exact or resumed.deterministic_exact)
          and two.memory_back is not False and two.second_equals_fresh)
    return schema.TaskCheck(study=spec.study, data=spec.described, config=spec.config, run=plain, resume=resumed,
                            precisions=precisions, two_trials=two, speed=trials.speed(spec, plain, sizes), ok=ok)


def device_facts(device) -> dict:
    import torch

    from trainables.common import runtime

    cuda = device.type == "cuda"
    return {"device": device.type, "python": platform.python_version(), "torch": torch.__version__,
            "device_name": torch.cuda.get_device_name() if cuda else runtime.cpu_capability(),
            "cuda": torch.version.cuda if cuda else None}


def run_check(args: argparse.Namespace, device, sizes: str, out: Path):
    from benchmarks.gpu_check import extras, schema, specs

    started = time.perf_counter()
    work = out / "work"
    fresh = fresh_runner(args, sizes, work)
    tasks = tuple(check_task(specs.build(study, sizes, work), device, sizes, work, fresh)
                  for study in args.studies.split(","))
    cuda = device.type == "cuda"
    tests, ray = extras.gpu_tests(cuda, out), extras.ray_study(cuda, out)
    ok = all(t.ok for t in tasks) and tests.failed in (0, None) and tests.errors in (0, None) and ray.ok is not False
    shutil.rmtree(work, ignore_errors=True)
    command = " ".join(["python benchmarks/gpu_check.py", *args.argv])
    return schema.Check(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), command=command,
                        sizes=sizes, wall_s=time.perf_counter() - started, tasks=tasks, tests=tests, ray=ray, ok=ok,
                        **device_facts(device))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before CUDA starts: torch sees no GPU
    import torch

    from benchmarks.gpu_check import specs, summary, trials
    from trainables.common import runtime

    # For the whole process, before CUDA starts: cuBLAS reads its workspace setting once.
    os.environ.setdefault(runtime.CUBLAS_WORKSPACE_ENV, runtime.CUBLAS_DETERMINISTIC)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: CUDA is not available here", file=sys.stderr)
        return 2
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sizes = args.sizes or (specs.GPU if device.type == "cuda" else specs.TINY)
    out = Path(args.out)
    if args.fresh:
        print(json.dumps(trials.fresh_numbers(specs.build(args.fresh, sizes, out), out / args.fresh)))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    check = run_check(args, device, sizes, out)
    (out / JSON_FILE).write_text(json.dumps(dataclasses.asdict(check), indent=2, default=str))
    text = summary.markdown(check)
    (out / SUMMARY_FILE).write_text(text)
    print(text)
    print(f"wrote {out / JSON_FILE} and {out / SUMMARY_FILE}")
    return 0 if check.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
