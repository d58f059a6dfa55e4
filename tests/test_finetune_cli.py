"The `ragft_finetune` command: adapter, loss history and metrics written; resumes from its checkpoints; clear errors."
import json, subprocess, sys
from pathlib import Path
from ragft_nb.data import write_jsonl

EXE = Path(sys.executable).parent/'ragft_finetune'
CMD = [str(EXE)] if EXE.exists() else [sys.executable, '-c', 'from ragft_nb.cli import finetune_cli; finetune_cli()']
TINY = ['--batch_size', '2', '--eval_steps', '1', '--max_len', '64', '--n_probe', '2', '--n_texts', '2']

CORPUS = [{'id': f'p{i}', 'title': t, 'text': x} for i, (t, x) in enumerate([
    ('Cats', 'Cats purr when content and sleep sixteen hours a day.'),
    ('Metals', 'Iron rusts because oxygen and water form iron oxide.'),
    ('Oceans', 'Tides follow the gravity of the moon pulling on seawater.'),
    ('Baking', 'Yeast ferments sugar, releasing carbon dioxide that makes dough rise.')])]
QA = [{'id': f'q{i}', 'question': q, 'answer': a, 'gold_ids': [f'p{i % 4}']} for i, (q, a) in enumerate([
    ('Why do cats purr?', 'Cats purr when they are content.'), ('Why does iron rust?', 'Oxygen and water form iron oxide.'),
    ('What causes tides?', 'The gravity of the moon.'), ('What makes dough rise?', 'Carbon dioxide released by yeast.'),
    ('How long do cats sleep?', 'About sixteen hours a day.'), ('What is rust?', 'Iron oxide.'),
    ('What pulls on seawater?', 'The moon.'), ('What does yeast ferment?', 'Sugar.'),
    ('When do cats purr?', 'When they are content.'), ('What forms iron oxide?', 'Oxygen and water with iron.'),
    ('Why do tides rise?', 'The moon pulls the sea.'), ('What gas makes bread rise?', 'Carbon dioxide.')])]

def run(*args): return subprocess.run(CMD + [str(a) for a in args], capture_output=True, text=True)

def test_writes_adapter_history_metrics_and_resumes(tmp_path):
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    out = tmp_path/'run'
    r = run('--corpus', c, '--qa', q, '--out', out, '--max_steps', 2, '--patience', 0, *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out/'adapter'/'adapter_model.safetensors').stat().st_size > 0
    assert json.loads((out/'adapter'/'adapter_config.json').read_text())['r'] == 8
    m = json.loads((out/'metrics.json').read_text())
    assert {'train_loss', 'valid_loss_before', 'valid_loss', 'test_loss', 'steps', 'probes', 'config'} <= set(m)
    assert 0 < m['test_loss'] < 20
    assert m['steps'] == 2 and m['config']['max_steps'] == 2
    for when in ('before', 'after'):
        assert set(m['probes'][when]) == {'general_lm_loss', 'general_accuracy'}
        assert 0 < m['probes'][when]['general_lm_loss'] < 20 and 0 <= m['probes'][when]['general_accuracy'] <= 1
    h = json.loads((out/'history.json').read_text())
    assert [s for s, _ in h['valid']] == [0, 1, 2] and [s for s, _ in h['train']] == [1, 2]
    assert m['valid_loss_before'] == h['valid'][0][1] and m['valid_loss'] == h['valid'][-1][1]
    # run it again with more steps: it resumes from checkpoint-2 instead of starting over
    r = run('--corpus', c, '--qa', q, '--out', out, '--max_steps', 3, '--patience', 0, *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'resuming from' in r.stdout and 'checkpoint-2' in r.stdout
    h2 = json.loads((out/'history.json').read_text())
    assert h2['valid'][:3] == h['valid'] and [s for s, _ in h2['valid']] == [0, 1, 2, 3]
    assert json.loads((out/'metrics.json').read_text())['probes']['before'] == m['probes']['before']   # cached base probes

def test_bad_input_names_the_file(tmp_path):
    c = write_jsonl(CORPUS, tmp_path/'corpus.jsonl')
    (tmp_path/'qa.jsonl').write_text('{"id": "q1", "question": "Why?"}\n')
    r = run('--corpus', c, '--qa', tmp_path/'qa.jsonl', '--out', tmp_path/'run')
    assert r.returncode != 0 and "qa.jsonl:1: missing field 'answer'" in r.stderr
    assert 'Traceback' not in r.stderr and not (tmp_path/'run').exists()
    r = run('--corpus', tmp_path/'missing.jsonl', '--qa', tmp_path/'qa.jsonl', '--out', tmp_path/'run')
    assert r.returncode != 0 and 'missing.jsonl: file not found' in r.stderr

def test_raft_strategy_trains_and_its_adapter_answers(tmp_path):
    "`--strategy raft` trains on RAG prompts with distractors; `ragft_eval --adapter` answers with the adapter."
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    out = tmp_path/'raft'
    r = run('--corpus', c, '--qa', q, '--out', out, '--max_steps', 1, '--patience', 0, '--strategy', 'raft',
            '--distractors', 1, '--style', 'quote', *[a if a != '64' else '512' for a in TINY])
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out/'metrics.json').read_text())
    assert m['config']['strategy'] == 'raft (p=0.8, 1 hard distractors, quote, delimited template, 512-token context)' and m['steps'] == 1
    ev = subprocess.run([str(a) for a in [Path(sys.executable).parent/'ragft_eval', '--corpus', c, '--qa', q, '--method', 'bm25', '--split', 'all',
                         '--limit', 1, '--generate', '--n_passages', 2, '--max_new_tokens', 8, '--adapter', out/'adapter',
                         '--out', tmp_path/'e.json']], capture_output=True, text=True)
    assert ev.returncode == 0, ev.stderr[-3000:]
    e = json.loads((tmp_path/'e.json').read_text())
    assert e['config']['adapter'] == str(out/'adapter') and e['answers'][0]['passage_ids']
    bad = run('--corpus', c, '--qa', q, '--out', tmp_path/'x', '--strategy', 'dsf')
    assert bad.returncode != 0 and "--strategy must be 'closed' or 'raft'" in bad.stderr and 'Traceback' not in bad.stderr

def test_killed_run_resumes_to_the_same_losses(tmp_path):
    "SIGKILL a run (mid-step or mid-checkpoint), run the command again: it ends with the losses of an uninterrupted run."
    import os, signal, time
    c, q = write_jsonl(CORPUS, tmp_path/'corpus.jsonl'), write_jsonl(QA, tmp_path/'qa.jsonl')
    args = ['--corpus', c, '--qa', q, '--max_steps', 6, '--patience', 0, '--dtype', 'fp32', *TINY]
    assert run(*args, '--out', tmp_path/'whole').returncode == 0
    out = tmp_path/'killed'
    p = subprocess.Popen(CMD + [str(a) for a in args + ['--out', out]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t = time.time()
    while not (out/'checkpoints'/'checkpoint-3').is_dir() and p.poll() is None and time.time() - t < 600: time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    assert not (out/'metrics.json').exists()                      # it really was killed before the end
    r = run(*args, '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'resuming from' in r.stdout
    whole, resumed = (json.loads((tmp_path/d/'history.json').read_text()) for d in ('whole', 'killed'))
    assert [s for s, _ in resumed['valid']] == [s for s, _ in whole['valid']] == list(range(7))
    for k in ('train', 'valid'):      # float32, same seed, same data order: equal up to float summation order
        assert all(abs(a[1] - b[1]) < 1e-4 for a, b in zip(whole[k], resumed[k])), (k, whole[k], resumed[k])
