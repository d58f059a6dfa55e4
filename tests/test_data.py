"The bundled data is what the builder makes, and the data CLI works."
import json, subprocess, sys
from pathlib import Path
import pytest
from ragft_nb.data import BUNDLED, CORPORA, find_python_docs, load_bundled, load_dataset, read_jsonl, split_qa

def test_bundled_loads_and_splits():
    corpus, qa = load_bundled('faq')
    assert len(corpus) == len(qa) >= 150
    docs, qa2 = load_dataset()                      # default: the harder corpus
    assert qa2 == qa and len(docs) > 10 * len(corpus)
    s = split_qa(qa)
    assert {q['id'] for q in s['train']}.isdisjoint(q['id'] for q in s['test'])
    man = json.loads((BUNDLED/'manifest.json').read_text())
    assert man['splits'] == {k: len(v) for k, v in s.items()}
    assert (BUNDLED/'LICENSE_PSF.txt').read_text().strip()

def test_rebuild_matches_bundled(tmp_path):
    "CI installs Debian's python3-doc; the builder must reproduce the shipped files byte for byte."
    try: root = find_python_docs()
    except ValueError: pytest.skip('python3-doc is not installed')
    man = json.loads((BUNDLED/'manifest.json').read_text())
    if root.parent.parent.name != man['source_dir']: pytest.skip(f"installed docs are {root.parent.parent.name}, bundled {man['source_dir']}")
    exe = Path(sys.executable).parent/'ragft_build_data'
    r = subprocess.run([str(exe), '--out', str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in [*CORPORA.values(), 'python_faq_qa.jsonl', 'manifest.json']:
        assert read_jsonl(tmp_path/name) == read_jsonl(BUNDLED/name) if 'jsonl' in name else \
               (tmp_path/name).read_text() == (BUNDLED/name).read_text(), name

def test_build_data_cli_bad_source(tmp_path):
    exe = Path(sys.executable).parent/'ragft_build_data'
    r = subprocess.run([str(exe), '--src', str(tmp_path), '--out', str(tmp_path/'o')], capture_output=True, text=True)
    assert r.returncode != 0 and 'python3-doc' in r.stderr
