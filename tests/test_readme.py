"README.md says what nbs/index.ipynb says, and its two commands point at things that exist."
import re, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tools'))
from readme import ROOT, readme_text

def test_readme_matches_index():
    assert (ROOT/'README.md').read_text() == readme_text(), "run `python tools/readme.py` after editing nbs/index.ipynb"

def test_two_commands_exist():
    text = (ROOT/'README.md').read_text()
    setup = re.search(r'^bash tools/setup.sh && \.venv/bin/(\w+)', text, re.M)
    assert setup and (ROOT/'tools'/'setup.sh').exists()
    assert (Path(sys.executable).parent/setup.group(1)).exists(), f"console script {setup.group(1)} is not installed"
    assert re.search(r'^\.venv/bin/pytest tests', text, re.M)
    assert '.venv/bin/pytest tests' in (ROOT/'.ci'/'run').read_text()
