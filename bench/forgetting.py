"""Overfitting and catastrophic-forgetting demonstration: LoRA runs on the FAQ questions at a high and a low learning
rate, with and without early stopping, and with general data mixed in; general-domain probes before and after.

    .venv/bin/python bench/forgetting.py                   # writes bench/forgetting.{md,json}, runs in runs/forgetting/
    .venv/bin/python bench/forgetting.py --only "low lr"   # one run (the others are kept from the previous JSON)

Every run starts from the same base model, so the probes before training are measured once and shared (written as
each run's `probes_before.json`, which `run_finetune` reads instead of measuring again). Each run's adapter,
checkpoints, history and metrics stay in `runs/forgetting/<run>/`; this script collects the metrics and loss curves
that `nbs/07_finetune.ipynb` plots.
"""
import argparse, json, os, platform, re, shutil, time
from dataclasses import replace
from pathlib import Path
import torch
from ragft_nb.data import atomic_write_bytes
from ragft_nb.models import load_generator
from ragft_nb.finetune import FinetuneConfig, forgetting_probes, general_qa, general_texts, run_finetune

HIGH, LOW, STEPS = 3e-3, 2e-4, 100
RUNS = {  # name: changes to FinetuneConfig(max_steps=STEPS)
    'high lr, no early stop': dict(lr=HIGH, patience=0),
    'high lr, early stopping': dict(lr=HIGH, patience=2),
    'high lr + general mix': dict(lr=HIGH, patience=0, mix_general=1.0),
    'low lr, no early stop': dict(lr=LOW, patience=0),
}

def slug(name): return re.sub(r'\W+', '-', name).strip('-')

def main(out, n_probe, n_texts, only=None, resume=False):
    path = Path(__file__).parent/'forgetting.json'
    res = json.loads(path.read_text()) if path.is_file() and only else {'runs': {}}
    model, tok = load_generator(dtype=torch.bfloat16)
    t = time.time()
    before = forgetting_probes(model, tok, general_texts(n_texts), general_qa(n_probe))
    print(f"base model ({time.time()-t:.0f}s): {before}", flush=True)
    del model
    res.update({'before': before, 'n_probe': n_probe, 'n_texts': n_texts, 'steps': STEPS})
    for name, change in RUNS.items():
        if only and name not in only: continue
        d = Path(out)/slug(name)
        if not resume: shutil.rmtree(d, ignore_errors=True)   # a stale checkpoint of another config must not be resumed
        atomic_write_bytes(d/'probes_before.json', json.dumps(before).encode())
        t = time.time()
        m = run_finetune('faq', out=d, cfg=FinetuneConfig(max_steps=STEPS, **change), n_probe=n_probe, n_texts=n_texts)
        print(f"{name}: {time.time()-t:.0f}s, kept step {m['kept_step']}/{m['steps']}, valid {m['valid_loss_before']:.3f} -> "
              f"{m['valid_loss']:.3f}, probes after {m['probes']['after']}", flush=True)
        res['runs'][name] = {'metrics': m, 'history': json.loads((d/'history.json').read_text())}
    res['runs'] = {k: res['runs'][k] for k in RUNS if k in res['runs']}
    res['env'] = {'python': platform.python_version(), 'cpus': os.cpu_count(), 'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
                  'load_avg_1min_at_end': os.getloadavg()[0]}
    return res

def markdown(res):
    b = res['before']
    out = ['# Overfitting and forgetting: LoRA on the FAQ questions', '',
           f"Made by `bench/forgetting.py`: SmolLM2-135M-Instruct ({'bf16' if next(iter(res['runs'].values()))['metrics']['config']['bf16'] else 'float32'} "
           f"base weights), LoRA r=8 on q/k/v/o, batch 8, up to "
           f"{res['steps']} steps (~{res['steps'] * 8 // 100} epochs of the 100 training questions), validation every 10 steps. Probes: LM loss on "
           f"{res['n_texts']} chatterbot dialogues, closed-book accuracy on {res['n_probe']} general questions "
           "(chatterbot trivia + FanoutQA).", '',
           f"Base model: general LM loss **{b['general_lm_loss']:.3f}**, general accuracy **{b['general_accuracy']:.1%}**.", '',
           '| run | lr | general mix | early stopping | steps run | step kept | FAQ valid loss before | FAQ valid loss kept | general LM loss after | general accuracy after |',
           '|---|---|---|---|---|---|---|---|---|---|']
    for name, r in res['runs'].items():
        m, c = r['metrics'], r['metrics']['config']
        a = m['probes']['after']
        out.append(f"| {name} | {c['lr']:g} | {c['mix_general']:g} | {'patience ' + str(c['patience']) if c['patience'] else 'no'} | "
                   f"{m['steps']} | {m['kept_step']} | {m['valid_loss_before']:.3f} | {m['valid_loss']:.3f} | "
                   f"{a['general_lm_loss']:.3f} ({a['general_lm_loss'] - b['general_lm_loss']:+.3f}) | "
                   f"{a['general_accuracy']:.1%} ({(a['general_accuracy'] - b['general_accuracy']) * 100:+.1f} pts) |")
    out += ['', f"torch {res['env']['torch']} with {res['env']['torch_threads']} thread(s) on {res['env']['cpus']} CPUs; "
                f"1-minute load average at the end {res['env']['load_avg_1min_at_end']:.1f} (other jobs shared the machine).", '']
    return '\n'.join(out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='runs/forgetting', help='folder for the runs')
    ap.add_argument('--n_probe', type=int, default=64)
    ap.add_argument('--n_texts', type=int, default=64)
    ap.add_argument('--only', nargs='*', help='run only these (names as in RUNS)')
    ap.add_argument('--resume', action='store_true', help='continue interrupted runs from their checkpoints')
    ap.add_argument('--threads', type=int, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    res = main(args.out, args.n_probe, args.n_texts, args.only, args.resume)
    md = markdown(res)
    print(md)
    p = Path(__file__).parent/'forgetting'
    atomic_write_bytes(f'{p}.json', (json.dumps(res, indent=1) + '\n').encode())
    atomic_write_bytes(f'{p}.md', md.encode())
