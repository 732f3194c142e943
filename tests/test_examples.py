"""The examples run end to end (the README's main job in every run, the longer ones with --runslow)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script", ["plot_synthetic_basin.py",
                                    pytest.param("plot_calibration.py", marks=pytest.mark.slow),
                                    pytest.param("plot_regionalisation.py", marks=[pytest.mark.slow, pytest.mark.smash]),
                                    pytest.param("plot_hybrid.py", marks=pytest.mark.slow)])
def test_example_runs(script, tmp_path):
    pytest.importorskip("matplotlib")
    if script == "plot_regionalisation.py":
        pytest.importorskip("smash")  # the example uses hydro-smash's Lez data
    env = dict(os.environ, MPLBACKEND="Agg")
    # run from a temporary folder so that the installed package is imported, not the source tree
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "NSE" in proc.stdout
