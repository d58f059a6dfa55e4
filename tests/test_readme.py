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

def test_cost_figures_are_the_committed_run():
    "The minutes README.md quotes for `ragft_experiment` are those of the run committed in bench/experiment/results.json."
    import json
    text, r = (ROOT/'README.md').read_text(), json.loads((ROOT/'bench'/'experiment'/'results.json').read_text())
    total = re.search(r'\*\*([\d.]+) min\*\* for\s+`ragft_experiment`', text)
    train = re.search(r'\(training ([\d.]+) min: DSF ([\d.]+), RAFT ([\d.]+), retriever ([\d.]+), LTR reranker ([\d.]+), end-to-end ([\d.]+);', text)
    assert total and train, "README lost its cost sentence"
    assert float(total.group(1)) == round(r['seconds']['total'] / 60, 1)
    per = [sum(r['train'][k]['seconds']) / len(r['train'][k]['seconds']) / 60 for k in ('DSF', 'RAFT', 'retriever', 'reranker', 'end-to-end')]
    assert float(train.group(1)) == round(sum(per), 1)
    for quoted, measured in zip(train.groups()[1:], per):
        assert abs(float(quoted) - measured) <= 0.5 * 10**-len(quoted.split('.')[1]) + 1e-9, (quoted, measured)   # rounded, not stale
    cpu = re.search(r'Measured on 2 cores \((\w+ \w+), (\w+);', text)
    assert cpu and cpu.group(1).split()[-1] in r['env']['cpu'] and cpu.group(2) == r['env']['dtype']

def test_second_reader_cost_is_the_committed_run():
    "The minutes README.md quotes for the optional 0.5B reader are those of bench/experiment_qwen/results.json."
    import json
    text = (ROOT/'README.md').read_text()
    r = json.loads((ROOT/'bench'/'experiment_qwen'/'results.json').read_text())
    m = re.search(r'--generator qwen2\.5-coder-0\.5b --out bench/experiment_qwen`[^*]*\*\*([\d.]+) min\*\* on the same machine \(training ([\d.]+) min\)', text)
    assert m and float(m.group(1)) == round(r['seconds']['total'] / 60, 1) and r['config']['generator'] == 'qwen2.5-coder-0.5b'
    train = sum(sum(t['seconds']) / len(t['seconds']) for t in r['train'].values()) / 60
    assert float(m.group(2)) == round(train, 1)
    small = json.loads((ROOT/'bench'/'experiment'/'results.json').read_text())
    against = re.search(r'against ([\d.]+) min for the 135M reader', text)
    assert against and float(against.group(1)) == round(small['seconds']['total'] / 60, 1)

def test_second_reader_claims_are_the_committed_runs():
    "Each claim README.md makes about the 0.5B reader is a verdict `compare_readers` computes from the two committed results files."
    import json
    from ragft_nb.experiment import compare_readers
    text = ' '.join((ROOT/'README.md').read_text().split())
    Q = compare_readers(*(json.loads((ROOT/'bench'/d/'results.json').read_text()) for d in ('experiment', 'experiment_qwen')))['questions']
    claims = {'RAG beats closed book': [('RAG beats closed book', 'b', 'better')],   # reader a: 135M, b: 0.5B
              'end-to-end comes within the noise of copying the top passage': [('the best system beats copying the top passage', 'b', 'no difference')],
              "RAFT's gain disappears": [('RAFT adds to RAG', 'a', 'better'), ('RAFT adds to RAG', 'b', 'no difference')]}
    said = [c for c in claims if c in text]
    assert said, "README's sentence on the 0.5B reader changed: list its claims here"
    for claim in said:
        for question, reader, expected in claims[claim]:
            assert Q[question][reader]['verdict'] == expected, (claim, reader)
    if 'end-to-end comes within the noise of copying the top passage' in said:   # ... and the best system is end-to-end
        assert Q['the best system beats copying the top passage']['b']['system'] == 'end-to-end'
