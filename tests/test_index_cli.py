"The `ragft_index` command: build an index, update it to a new corpus version encoding only what changed, clear errors."
import json, subprocess, sys
from pathlib import Path
from ragft_nb.data import write_jsonl
from ragft_nb.models import load_embedder
from ragft_nb.retrieve import load_index

EXE = Path(sys.executable).parent/'ragft_index'
V1 = [{'id': f'p{i}', 'title': f'Topic {i}', 'text': f'Passage number {i} explains topic {i} in plain words.'} for i in range(12)]
V2 = ([{**p, 'text': p['text'] + ' Updated.'} if p['id'] in ('p0', 'p1') else p for p in V1 if p['id'] != 'p5']
      + [{'id': 'p99', 'title': 'New', 'text': 'A passage added in the new release.'}])

def run(*args): return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=600)

def test_build_then_update(tmp_path):
    v1, v2, idx = write_jsonl(V1, tmp_path/'v1.jsonl'), write_jsonl(V2, tmp_path/'v2.jsonl'), tmp_path/'idx'
    r = run('build', '--corpus', v1, '--index', idx)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])['passages'] == 12
    r = run('update', '--corpus', v2, '--index', idx)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    assert (rep['added'], rep['changed'], rep['removed'], rep['unchanged'], rep['encoded']) == (1, 2, 1, 9, 3)
    assert sorted(load_index(idx, load_embedder()).ids) == sorted(p['id'] for p in V2)
    again = json.loads(run('update', '--corpus', v2, '--index', idx).stdout.strip().splitlines()[-1])
    assert (again['encoded'], again['unchanged']) == (0, 12)

def test_errors_are_one_line(tmp_path):
    v1 = write_jsonl(V1, tmp_path/'v1.jsonl')
    for args, msg in [(('rebuild', '--corpus', v1), "action must be 'build' or 'update'"),
                      (('update', '--corpus', v1, '--index', tmp_path/'none'), 'meta.json: not found'),
                      (('build', '--corpus', tmp_path/'missing.jsonl'), 'missing.jsonl')]:
        r = run(*args)
        assert r.returncode != 0 and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr[-1500:])
