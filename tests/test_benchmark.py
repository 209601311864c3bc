import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _benchmark(*args):
    return subprocess.run([sys.executable, "-m", "launch.benchmark", "--data_size=300", "--steps_per_call=2",
                           "--seconds=0.05", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_benchmark_measures_every_combination_profiles_them_and_writes_json_rows(tmp_path):
    rows_file = tmp_path / "rows.jsonl"
    out = _benchmark("--num_networks=1,2", "--conv_impl=im2col,taps/im2col", "--compute_dtype=float32",
                     "--profile_top=3", f"--json_out={rows_file}")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert [(r["conv"], r["n"]) for r in rows] == [("im2col", 1), ("im2col", 2), ("taps/im2col", 1),
                                                  ("taps/im2col", 2)]
    assert all(r["images_per_s"] > 0 and r["compile_s"] > 0 and r["model"] == "lenet5" for r in rows)
    # the printed table has one line per row, and each row its slowest ops
    assert sum(line.strip().startswith(("im2col", "taps/im2col")) for line in out.stdout.splitlines()) == 4
    assert out.stdout.count("op time per step") == 4
    assert all(len(r["top_ops_us_per_step"]) == 3 and all(t > 0 for t in r["top_ops_us_per_step"].values())
               for r in rows)


def test_benchmark_refuses_an_unknown_dtype():
    out = _benchmark("--num_networks=1", "--compute_dtype=float16")
    assert out.returncode != 0
    assert "--compute_dtype='float16' is unknown" in out.stderr


def test_benchmark_names_an_unknown_lowering_in_one_line():
    out = _benchmark("--num_networks=1", "--conv_impl=tap")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: conv_impl='tap' is unknown for lenet5")
    assert "Traceback" not in out.stderr


def test_the_peer_benchmarks_import_without_running_anything():
    """benchmarks/ scripts are importable (their functions reused) with no output, no data, no device work."""
    code = ("import importlib.util\n"
            "modules = {}\n"
            "for name in ('peer_bench', 'lenet_variants', 'input_pipeline', 'save_overlap'):\n"
            "    spec = importlib.util.spec_from_file_location(name, f'benchmarks/{name}.py')\n"
            "    modules[name] = importlib.util.module_from_spec(spec)\n"
            "    spec.loader.exec_module(modules[name])\n"
            "    assert callable(modules[name].main), name\n"
            "assert modules['peer_bench'].X is None and modules['peer_bench'].RESULTS == []\n")
    # --small on the command line: a script that read it at import would also run at import
    out = subprocess.run([sys.executable, "-c", code, "--small"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout == "", out.stdout[:2000]  # a script that ran at import would print its rows
