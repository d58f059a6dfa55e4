"""Overfitting and catastrophic-forgetting demonstration: LoRA runs on the FAQ questions at a high and a low learning
rate, with and without early stopping, and with general data mixed in; general-domain probes before and after.

    .venv/bin/python bench/forgetting.py                   # 4 settings x 3 seeds x 100 steps (~2 h on 2 cores); writes bench/forgetting.{md,json}
    .venv/bin/python bench/forgetting.py --seeds 1 --steps 20   # a quick look

Every run starts from the same base model, so the probes before training are measured once, in the dtype the runs
train in (`default_dtype()`), and shared (written as each run's `probes_before.json`, which `run_finetune` reads
instead of measuring again). Each setting runs with several seeds (data order and adapter initialisation); the table
gives mean ± standard deviation over seeds of the early-stopping criterion (FAQ validation loss), the loss on the
FAQ test questions (never used for any choice) and the two probes. Each run's adapter,
checkpoints, history and metrics stay in `runs/forgetting/<run>/`; this script collects the metrics and loss curves
that `nbs/07_finetune.ipynb` plots.
"""
import argparse, json, os, platform, re, shutil, time
from dataclasses import replace
from pathlib import Path
import torch
from ragft_nb.data import atomic_write_bytes
import numpy as np
from ragft_nb.models import default_dtype, load_generator
from ragft_nb.finetune import FinetuneConfig, forgetting_probes, general_qa, general_texts, run_finetune

HIGH, LOW = 3e-3, 2e-4
RUNS = {  # name: changes to FinetuneConfig(max_steps=steps)
    'high lr, no early stop': dict(lr=HIGH, patience=0),
    'high lr, early stopping': dict(lr=HIGH, patience=2),
    'high lr + general mix': dict(lr=HIGH, patience=0, mix_general=1.0),
    'low lr, no early stop': dict(lr=LOW, patience=0),
}

def slug(name): return re.sub(r'\W+', '-', name).strip('-')

KEYS = ('valid_loss', 'test_loss', 'general_lm_loss', 'general_accuracy')

def values(m):
    "The numbers of one run that the table summarises."
    return {'valid_loss': m['valid_loss'], 'test_loss': m['test_loss'], **m['probes']['after']}

def main(out, n_probe, n_texts, seeds, steps, resume=False):
    res = {'runs': {}}
    model, tok = load_generator(dtype=default_dtype())
    t = time.time()
    before = forgetting_probes(model, tok, general_texts(n_texts), general_qa(n_probe))
    print(f"base model ({time.time()-t:.0f}s): {before}", flush=True)
    del model
    res.update({'before': before, 'n_probe': n_probe, 'n_texts': n_texts, 'steps': steps, 'seeds': seeds,
                'dtype': str(default_dtype()).removeprefix('torch.')})
    for seed in range(seeds):
        for name, change in RUNS.items():
            d = Path(out)/f"{slug(name)}-seed{seed}"
            if not resume: shutil.rmtree(d, ignore_errors=True)   # a stale checkpoint of another config must not be resumed
            cfg = FinetuneConfig(max_steps=steps, seed=seed, **change)
            t = time.time()
            if resume and (d/'metrics.json').is_file() and json.loads((d/'metrics.json').read_text())['config']['max_steps'] == steps:
                m = json.loads((d/'metrics.json').read_text())           # finished before the interruption
            else:
                atomic_write_bytes(d/'probes_before.json', json.dumps(before).encode())
                m = run_finetune('faq', out=d, cfg=cfg, n_probe=n_probe, n_texts=n_texts)
            print(f"{name}, seed {seed}: {time.time()-t:.0f}s, kept step {m['kept_step']}/{m['steps']}, valid {m['valid_loss_before']:.3f} -> "
                  f"{m['valid_loss']:.3f}, test {m['test_loss']:.3f}, probes after {m['probes']['after']}", flush=True)
            r = res['runs'].setdefault(name, {'seeds': []})
            r['seeds'].append(m)
            if seed == 0: r |= {'metrics': m, 'history': json.loads((d/'history.json').read_text())}   # curves: seed 0
    for r in res['runs'].values():
        r['summary'] = {k: {'mean': float(np.mean([values(m)[k] for m in r['seeds']])),
                            'std': float(np.std([values(m)[k] for m in r['seeds']], ddof=1)) if len(r['seeds']) > 1 else 0.0} for k in KEYS}
    res['env'] = {'python': platform.python_version(), 'cpus': os.cpu_count(), 'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
                  'load_avg_1min_at_end': os.getloadavg()[0]}
    return res

def markdown(res):
    b = res['before']
    def ms(r, k, pct=False):
        v = r['summary'][k]
        return f"{v['mean']:.1%} ± {v['std']:.1%}" if pct else f"{v['mean']:.3f} ± {v['std']:.3f}"
    out = ['# Overfitting and forgetting: LoRA on the FAQ questions', '',
           f"Made by `bench/forgetting.py`: SmolLM2-135M-Instruct ({res['dtype']} base weights, as for the base-model probes), "
           f"LoRA r=8 on q/k/v/o, batch 8, up to {res['steps']} steps, validation every 10 steps, {res['seeds']} seeds per "
           f"setting (mean ± std over seeds). Probes: LM loss on {res['n_texts']} chatterbot dialogues, closed-book accuracy "
           f"on {res['n_probe']} general questions (chatterbot trivia + FanoutQA; one question = {1 / res['n_probe']:.1%}).", '',
           f"Base model: general LM loss **{b['general_lm_loss']:.3f}**, general accuracy **{b['general_accuracy']:.1%}**.", '',
           '| run | lr | general mix | early stopping | steps run (seed 0) | FAQ valid loss kept (criterion) | FAQ test loss | general LM loss after | general accuracy after |',
           '|---|---|---|---|---|---|---|---|---|']
    for name, r in res['runs'].items():
        m, c = r['metrics'], r['metrics']['config']
        out.append(f"| {name} | {c['lr']:g} | {c['mix_general']:g} | {'patience ' + str(c['patience']) if c['patience'] else 'no'} | "
                   f"{m['steps']} (kept {m['kept_step']}) | {ms(r, 'valid_loss')} | {ms(r, 'test_loss')} | {ms(r, 'general_lm_loss')} | "
                   f"{ms(r, 'general_accuracy', True)} |")
    out += ['', f"FAQ validation loss before training: {next(iter(res['runs'].values()))['metrics']['valid_loss_before']:.3f}. "
                f"torch {res['env']['torch']} with {res['env']['torch_threads']} thread(s) on {res['env']['cpus']} CPUs; "
                f"1-minute load average at the end {res['env']['load_avg_1min_at_end']:.1f}.", '']
    return '\n'.join(out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='runs/forgetting', help='folder for the runs')
    ap.add_argument('--n_probe', type=int, default=64)
    ap.add_argument('--n_texts', type=int, default=64)
    ap.add_argument('--seeds', type=int, default=3, help='seeds per setting')
    ap.add_argument('--steps', type=int, default=100, help='optimizer steps at most per run')
    ap.add_argument('--resume', action='store_true', help='continue interrupted runs from their checkpoints')
    ap.add_argument('--threads', type=int, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    res = main(args.out, args.n_probe, args.n_texts, args.seeds, args.steps, args.resume)
    md = markdown(res)
    print(md)
    p = Path(__file__).parent/'forgetting'
    atomic_write_bytes(f'{p}.json', (json.dumps(res, indent=1) + '\n').encode())
    atomic_write_bytes(f'{p}.md', md.encode())
