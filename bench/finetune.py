"""Fine-tuning throughput benchmark: our LoRA trainer vs a plain default HF `Trainer` + peft script, on the same data
and LoRA config, measured in one run; plus the FLOP-bound estimate.

    .venv/bin/python bench/finetune.py                # writes bench/finetune.{md,json}
    .venv/bin/python bench/finetune.py --steps 3 --out /tmp/ft_bench

Setups (same 90 FAQ training questions, same prompt, LoRA r=8, alpha=16, dropout 0.05 on q/k/v/o, AdamW lr 2e-4,
batch 8):

- `default script (pad to 256)`: a first HF + peft script: every example padded to `max_length=256`,
  `DataCollatorForLanguageModeling` (loss on all tokens: prompt and answer), random batches. Labelled as such: it is
  not the fair peer.
- `practitioner script`: the fair peer, what a practitioner writes: examples tokenized without padding and padded per
  batch by `DataCollatorForLanguageModeling` (loss on all tokens), random batches.
- `ours`: `ragft_nb.finetune` (per-batch padding with `DataCollatorForSeq2Seq`, length-grouped batches, loss on
  answer tokens only).
The practitioner script and ours run with the frozen weights in float32 and in bfloat16, so each can be compared in
both dtypes and in the dtype that is fastest on this CPU.

Each setup runs in its own process (so its peak memory is its own): warm-up steps, then timed steps. Step time is the
wall time between consecutive `on_step_end` callbacks (data, forward, backward, optimizer). Tokens are counted at the
model's forward: *processed* (padding included: what the CPU computes) and *real* (padding excluded: the data).
The FLOP bound: full fine-tuning costs ~6 x parameters x processed tokens per step (forward 2NT, backward 4NT:
gradients for the activations and for the weights). With LoRA the frozen weights need no weight gradient, so the work
is ~4NT (the adapters add <1%). The bound is that work at the matmul throughput this CPU reaches in the same run with
the same number of threads; both counts are reported.
"""
import argparse, json, os, platform, resource, subprocess, sys, time
from dataclasses import replace
from pathlib import Path
import torch, transformers, peft
from ragft_nb.data import atomic_write_bytes, load_dataset, split_qa
from ragft_nb.models import load_generator, matmul_gflops
from ragft_nb.finetune import FinetuneConfig, add_lora, qa_messages, sft_dataset, training_args

SETUPS = (('default script (pad to 256)', 'float32'), ('practitioner script', 'float32'), ('practitioner script', 'bfloat16'),
          ('ours', 'float32'), ('ours', 'bfloat16'))
def key(name, dtype): return f'{name}, {dtype}'
MAX_LEN, BATCH, LR = 256, 8, 2e-4

class StepTimer(transformers.TrainerCallback):
    "Wall-clock time at the end of every optimizer step."
    def __init__(self): self.ends = []
    def on_step_end(self, args, state, control, **kw): self.ends.append(time.perf_counter())

def script_data(questions, tok, pad_to_max:bool):
    "A plain script's data: the whole conversation as text, padded to max_length or not (the collator pads per batch and sets labels = inputs)."
    texts = [tok.apply_chat_template(qa_messages(q, tok) + [{'role': 'assistant', 'content': q['answer']}], tokenize=False) for q in questions]
    enc = tok(texts, padding='max_length' if pad_to_max else False, max_length=MAX_LEN, truncation=True, add_special_tokens=False)
    return [{'input_ids': i, 'attention_mask': m} for i, m in zip(enc['input_ids'], enc['attention_mask'])]

def child(name, dtype, steps, warmup):
    "Train one setup for `warmup + steps` steps and return its measurements."
    ours, bf16 = name == 'ours', dtype == 'bfloat16'
    torch.manual_seed(0)
    _, qa = load_dataset('faq')
    train_q = split_qa(qa)['train']
    model, tok = load_generator(dtype=torch.bfloat16 if bf16 else torch.float32)
    n_params = sum(p.numel() for p in model.parameters())
    cfg = FinetuneConfig(max_steps=warmup + steps, batch_size=BATCH, lr=LR, bf16=bf16, max_len=MAX_LEN)
    model = add_lora(model, cfg.rank, cfg.alpha, cfg.dropout, cfg.targets)
    if ours:
        data, collator = sft_dataset(train_q, tok, MAX_LEN), transformers.DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
        args = replace(training_args('/tmp/ragft_bench_ft', cfg), eval_strategy='no', save_strategy='no',
                       load_best_model_at_end=False, eval_on_start=False, disable_tqdm=True)
    else:
        data, collator = script_data(train_q, tok, name.startswith('default')), transformers.DataCollatorForLanguageModeling(tok, mlm=False)
        args = transformers.TrainingArguments(output_dir='/tmp/ragft_bench_ft', max_steps=warmup + steps, per_device_train_batch_size=BATCH,
                                              learning_rate=LR, save_strategy='no', report_to='none', disable_tqdm=True)
    seen = []
    def count(mod, a, kw):
        ids, mask, labels = kw['input_ids'], kw['attention_mask'], kw['labels']
        if torch.is_grad_enabled(): seen.append((ids.numel(), int(mask.sum()), int((labels[:, 1:] != -100).sum())))
    model.register_forward_pre_hook(count, with_kwargs=True)
    timer = StepTimer()
    transformers.Trainer(model=model, args=args, train_dataset=data, data_collator=collator, callbacks=[timer]).train()
    dts = [b - a for a, b in zip(timer.ends[warmup - 1:], timer.ends[warmup:])]
    proc, real, loss_tok = (sum(x[i] for x in seen[warmup:warmup + steps]) for i in range(3))
    t = sum(dts)
    return {'setup': name, 'steps': len(dts), 'step_s': t / len(dts), 'step_s_each': dts, 'processed_tokens_per_step': proc / len(dts),
            'real_tokens_per_step': real / len(dts), 'loss_tokens_per_step': loss_tok / len(dts),
            'processed_tok_s': proc / t, 'real_tok_s': real / t, 'params': n_params,
            'peak_rss_gib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            'dtype': 'bfloat16' if bf16 else 'float32', 'torch_threads': torch.get_num_threads()}

def run(steps, warmup, threads):
    load_start = os.getloadavg()[0]
    res = {'setups': {}, 'steps': steps, 'warmup': warmup, 'batch': BATCH, 'max_len': MAX_LEN}
    for name, dtype in SETUPS:
        print(f"running {key(name, dtype)!r} ...", flush=True)
        r = subprocess.run([sys.executable, __file__, '--child', name, '--dtype', dtype, '--steps', str(steps), '--warmup', str(warmup),
                            '--threads', str(threads)], capture_output=True, text=True)
        if r.returncode: sys.exit(f"{name} failed:\n{r.stderr[-3000:]}")
        res['setups'][key(name, dtype)] = s = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  {s['step_s']:.2f} s/step, {s['real_tok_s']:.0f} real tok/s, peak {s['peak_rss_gib']:.2f} GiB", flush=True)
    res['matmul_gflops'] = {'float32': matmul_gflops(torch.float32), 'bfloat16': matmul_gflops(torch.bfloat16)}
    mhz = [float(l.split(':')[1]) for l in open('/proc/cpuinfo') if l.startswith('cpu MHz')]
    res['avx2_fma_peak_gflops'] = threads * mhz[0] / 1e3 * 32 if mhz else None   # 2 FMA units x 8 float32 lanes x 2 FLOPs
    res['env'] = {'python': platform.python_version(), 'cpus': os.cpu_count(), 'torch_threads': torch.get_num_threads(),
                  'cpu': next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor()),
                  'load_avg_1min_at_start': load_start, 'load_avg_1min_at_end': os.getloadavg()[0],
                  'torch': torch.__version__, 'transformers': transformers.__version__, 'peft': peft.__version__}
    return bounds(res)

def bounds(res):
    "FLOP counts, FLOP-bound step times and the ours/default ratios, from the measurements in `res`."
    for s in res['setups'].values():
        for k in (4, 6):
            flops = k * s['params'] * s['processed_tokens_per_step']
            s[f'gflops_{k}nt'] = flops / s['step_s'] / 1e9
            s[f'bound_step_s_{k}nt'] = flops / (res['matmul_gflops'][s['dtype']] * 1e9)
            s[f'of_bound_{k}nt'] = s[f'bound_step_s_{k}nt'] / s['step_s']
    S = res['setups']
    def ratio(o, p): return {'real_tok_s_ratio': o['real_tok_s'] / p['real_tok_s'], 'peak_rss_ratio': o['peak_rss_gib'] / p['peak_rss_gib']}
    res['fastest_dtype'] = max(('float32', 'bfloat16'), key=lambda d: S[key('ours', d)]['real_tok_s'])
    res['ours_vs_practitioner'] = {d: ratio(S[key('ours', d)], S[key('practitioner script', d)]) for d in ('float32', 'bfloat16')}
    res['ours_vs_default'] = ratio(S[key('ours', 'float32')], S[key('default script (pad to 256)', 'float32')])
    return res

def markdown(res):
    e, r, g, p, fd = res['env'], res['ours_vs_default'], res['matmul_gflops'], res['ours_vs_practitioner'], res['fastest_dtype']
    out = ['# Fine-tuning benchmark: LoRA training throughput', '',
           f"Made by `bench/finetune.py`: SmolLM2-135M-Instruct, LoRA r=8 on q/k/v/o, batch {res['batch']}, the {len(split_qa(load_dataset('faq')[1])['train'])} FAQ "
           f"training questions; {res['warmup']} warm-up + {res['steps']} timed steps per setup, each setup in its own process.", '',
           '| setup | weights | step (s) | processed tok/step | real tok/step | loss tok/step | real tok/s | peak RSS (GiB) | FLOP-bound step, 4NT / 6NT (s) | achieved GFLOP/s (4NT) | of the bound (4NT) |',
           '|---|---|---|---|---|---|---|---|---|---|---|']
    for n, s in res['setups'].items():
        out.append(f"| {n} | {s['dtype']} | {s['step_s']:.2f} | {s['processed_tokens_per_step']:.0f} | {s['real_tokens_per_step']:.0f} | "
                   f"{s['loss_tokens_per_step']:.0f} | {s['real_tok_s']:.0f} | {s['peak_rss_gib']:.2f} | "
                   f"{s['bound_step_s_4nt']:.2f} / {s['bound_step_s_6nt']:.2f} | {s['gflops_4nt']:.1f} | {s['of_bound_4nt']:.0%} |")
    out += ['', f"- **Ours vs the practitioner script (the fair peer), in the dtype fastest here ({fd}): "
                f"{p[fd]['real_tok_s_ratio']:.2f}x the real tokens per second, {p[fd]['peak_rss_ratio']:.2f}x the peak memory**; "
                f"in the other dtype {p['float32' if fd == 'bfloat16' else 'bfloat16']['real_tok_s_ratio']:.2f}x. What is left of our "
                f"advantage comes from length-grouped batches (less padding per batch) and the answer-only loss (same compute).",
            f"- Ours vs the default script padded to 256 (float32, not a fair peer): {r['real_tok_s_ratio']:.1f}x the real "
            f"tokens per second, {r['peak_rss_ratio']:.2f}x the peak memory.",
            f"- Matmul ceiling measured in the same run (torch, {e['torch_threads']} thread(s)): {g['float32']:.1f} GFLOP/s "
            f"float32, {g['bfloat16']:.1f} GFLOP/s bfloat16"
            + (f"; the AVX2 FMA peak at the reported clock is {res['avx2_fma_peak_gflops']:.0f} GFLOP/s. " if res.get('avx2_fma_peak_gflops') else ". ")
            + "FLOP-bound step = N x processed tokens x 4 (LoRA: forward 2NT + activation gradients 2NT; the frozen "
            "weights get no gradient) or x 6 (the usual full fine-tuning count), divided by that ceiling; "
            "\"of the bound\" = 4NT bound / measured step time. The 6NT count would put both setups above 100% of the "
            "ceiling: it overstates LoRA's work.",
            "- Real tokens exclude padding; the default script processes every example padded to 256 tokens. Loss tokens "
            "are the targets that count in the loss (all non-pad tokens for the two scripts, the answer only for ours).",
            f"- Machine: {e['cpu']}, {e['cpus']} CPUs, torch {e['torch']} ({e['torch_threads']} thread(s)), transformers "
            f"{e['transformers']}, peft {e['peft']}; 1-minute load average {e['load_avg_1min_at_start']:.1f} at the start and "
            f"{e['load_avg_1min_at_end']:.1f} at the end (other jobs shared the cores, so absolute times are upper bounds; "
            "the setups ran back to back under the same conditions).", '']
    return '\n'.join(out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--steps', type=int, default=6, help='timed steps per setup')
    ap.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (1: steady timings on a machine shared with other jobs)')
    ap.add_argument('--out', default=str(Path(__file__).parent/'finetune'), help='output path without extension')
    ap.add_argument('--render', action='store_true', help='only rewrite the .md (and derived numbers) from the saved .json')
    ap.add_argument('--child', help=argparse.SUPPRESS)
    ap.add_argument('--dtype', default='float32', help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.child: print(json.dumps(child(args.child, args.dtype, args.steps, args.warmup))); sys.exit()
    res = bounds(json.loads(Path(args.out + '.json').read_text())) if args.render else run(args.steps, args.warmup, args.threads)
    md = markdown(res)
    print(md)
    atomic_write_bytes(args.out + '.md', md.encode())
    atomic_write_bytes(args.out + '.json', (json.dumps(res, indent=1) + '\n').encode())
