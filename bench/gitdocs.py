"""A second knowledge source for transfer tests: the git documentation, built at run time from Debian's `git-doc`.

    .venv/bin/python bench/gitdocs.py --out /tmp/git       # writes /tmp/git/git_corpus.jsonl, prints counts
    .venv/bin/python bench/gitdocs.py --check              # builds the corpus, checks bench/data/git_qa.jsonl against it

The git documentation is GPL-2.0 text, so the corpus is not committed: `build_git_corpus` rebuilds it, the same on
every machine with the same `git-doc` version, from a fixed list of user-facing pages and man pages. The asciidoc
is cleaned lightly, cut at its headings (each gitfaq entry is a section of its own, its question kept as the title
and out of the text) and chunked like the Python docs corpus (`build_docs_corpus`: 200-word windows, no overlap).
The curated questions over it are in `bench/data/git_qa.jsonl` (see `bench/data/GIT_QA_CARD.md`).
"""
import argparse, hashlib, json, re, subprocess, sys, tempfile
from pathlib import Path
from ragft_nb.data import chunk_windows, load_corpus, load_qa, write_jsonl

HERE = Path(__file__).parent
QA_PATH = HERE/'data'/'git_qa.jsonl'
GUIDES = ['gitfaq', 'giteveryday', 'gittutorial', 'gittutorial-2', 'gitglossary', 'gitcore-tutorial', 'user-manual',
          'gitworkflows', 'gitrevisions', 'gitignore', 'gitattributes']
MANPAGES = ['git-commit', 'git-merge', 'git-rebase', 'git-reset', 'git-stash', 'git-cherry-pick', 'git-revert', 'git-clone',
            'git-fetch', 'git-pull', 'git-push', 'git-branch', 'git-checkout', 'git-switch', 'git-restore', 'git-log',
            'git-diff', 'git-tag', 'git-remote', 'git-config', 'git-bisect', 'git-blame', 'git-clean', 'git-gc',
            'git-reflog', 'git-worktree', 'git-submodule', 'git-am', 'git-format-patch']
FILES = GUIDES + MANPAGES
# The gold ids of git_qa.jsonl were checked against this build; another git-doc version may cut sections differently.
BUILT_FROM = {'git-doc': '1:2.39.5-0+deb12u3', 'sha256': '48d5e1ce610373feac40ec89e7394f1919c45c7d0e5ff591eef3861c135736ef'}
SKIP_SECTIONS = {'NAME', 'SYNOPSIS', 'SEE ALSO', 'GIT'}   # man-page boilerplate: command lines and links, not prose

_UNDERLINE = re.compile(r'^([=\-~^+])\1+$')
_ONE_LINE_TITLE = re.compile(r'^(={1,5})[ \t]+(\S.*?)(?:[ \t]+=+)?[ \t]*$')
_LITERAL_DELIM = re.compile(r'^(-{4,}|\.{4,}|\|={3,})$')              # listing, literal, table: content kept as is
_PROSE_DELIM = re.compile(r'^(={4,}|\*{4,}|_{4,}|\+{4,})$')           # example, sidebar, quote, passthrough
_COMMENT_DELIM = re.compile(r'^/{4,}$')
_ANCHOR = re.compile(r'\[\[\[?[^\]]*\]\]\]?')
_DROP_LINE = re.compile(r'^(?:include|ifdef|ifndef|endif|ifeval)::.*$|^:[\w!-]+:(?:[ \t].*)?$|^\[\[\[?[^\]]*\]\]\]?$'
                        r'|^\[(?:verse|NOTE|TIP|WARNING|IMPORTANT|CAUTION|appendix|preface|literal|listing|source[^\]]*'
                        r'|quote[^\]]*|caption=[^\]]*)\]$|^\+$|^--$')   # ... and `--` open-block fences
_FAQ_ENTRY = re.compile(r'^(\S.*?)::[ \t]*$')

def clean_inline(line:str)->str:
    "Strip asciidoc inline markup from one prose line, keeping the words a reader sees."
    line = re.sub(r'linkgit:([\w.-]+)\[\d+\]', r'\1', line)
    line = re.sub(r'link:\S+?\[([^\]]*)\]', r'\1', line)
    line = re.sub(r'(https?://[^\s\[]+)\[([^\]]*)\]', lambda m: m.group(2) or m.group(1), line)
    line = re.sub(r'<<([\w:.-]+)(?:,\s*([^<>]+))?>>', lambda m: m.group(2) or m.group(1), line)   # cross references
    line = _ANCHOR.sub('', line)
    line = line.replace('{asterisk}', '*').replace('{litdd}', '--').replace('{caret}', '^').replace('{tilde}', '~')
    line = re.sub(r'\+\+\+(.+?)\+\+\+', r'\1', line)
    line = re.sub(r'`([^`]*)`', r'\1', line).replace('`', '')                  # (a pair may span two lines)
    line = re.sub(r"(?<![\w'])'([^'\n]*?\S)'(?![\w'])", r'\1', line)            # 'emphasis' (not it's, don't)
    line = re.sub(r'(?<![\w*])\*([^*\s](?:[^*]*?[^*\s])?)\*(?![\w*])', r'\1', line)  # *strong*
    line = re.sub(r'(?<![\w_])_([^_\s](?:[^_]*?[^_\s])?)_(?![\w_])', r'\1', line)    # _emphasis_
    line = re.sub(r'(\S)(?:::|;;)[ \t]*$', r'\1:', line)                       # definition list terms
    return re.sub(r'[ \t]+', ' ', line).strip()

def _is_title_line(line:str)->bool:
    s = line.strip()
    return bool(s) and not line[0].isspace() and not s.startswith(('[', '//', '+', '*', '.', '<', '$', '|')) \
        and not (_LITERAL_DELIM.match(s) or _PROSE_DELIM.match(s) or _UNDERLINE.match(s))

def parse_asciidoc(src:str, # asciidoc source of one file
                   faq:bool=False # gitfaq: every `[[anchor]]` + `Question?::` entry is a section titled by its question
                  )->list[tuple[str,str]]: # `(title, cleaned text)` per section, in document order
    "Cut an asciidoc file at its headings and clean each section's text."
    src = re.sub(r'<<([\w:.-]+),\s*([^<>]+?)>>', r'\2', src)   # cross references, some spanning two lines
    lines = src.expandtabs(8).splitlines()
    sections, title, body = [], '', []
    literal = comment = None   # the delimiter of the open literal / comment block
    prose_open = []            # open example/sidebar/quote blocks: their content is prose, no headings inside
    def close(new_title):
        nonlocal title, body
        sections.append((title, re.sub(r'\n{3,}', '\n\n', '\n'.join(body)).strip()))
        title, body = new_title, []
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip(); s = raw.strip(); nxt = lines[i+1].rstrip() if i + 1 < len(lines) else ''
        i += 1
        if comment:
            if s == comment: comment = None
            continue
        if literal:
            if s == literal: literal = None
            else: body.append(raw)
            continue
        if _COMMENT_DELIM.match(s): comment = s; continue
        if s.startswith('//'): continue
        if not prose_open:
            if _is_title_line(raw) and _UNDERLINE.match(nxt) and abs(len(nxt) - len(raw)) <= 2:
                close(clean_inline(raw)); i += 1; continue
            m = _ONE_LINE_TITLE.match(raw)
            if m: close(clean_inline(m.group(2))); continue
            if faq and re.fullmatch(r'\[\[[^\]]+\]\]', s):
                m = _FAQ_ENTRY.match(nxt.strip())
                if m: close(clean_inline(m.group(1))); i += 1; continue
        if _LITERAL_DELIM.match(s): literal = s; continue
        if _PROSE_DELIM.match(s):
            if prose_open and prose_open[-1] == s: prose_open.pop()
            else: prose_open.append(s)
            continue
        if _DROP_LINE.match(s): body.append(''); continue
        body.append(clean_inline(raw))
    close(None)
    return sections

def build_git_corpus(src='/usr/share/doc/git-doc', # the asciidoc sources installed by Debian's `git-doc`
                     size:int=200, # words per chunk (as `build_docs_corpus`)
                     overlap:int=0, # words shared by neighbouring chunks (as `build_docs_corpus`)
                     min_words:int=15 # shorter passages are dropped
                    )->list[dict]: # passages `{'id', 'title', 'text'}` in a fixed order
    "Build the git documentation corpus from a fixed list of guides and man pages."
    root = Path(src)
    missing = [f'{f}.txt' for f in FILES if not (root/f'{f}.txt').is_file()]
    if missing: raise ValueError(f"{root}: {', '.join(missing)} not found: install the git documentation with `apt-get install git-doc`")
    out = []
    for stem in FILES:
        for si, (head, text) in enumerate(parse_asciidoc((root/f'{stem}.txt').read_text('utf-8'), faq=stem == 'gitfaq')):
            if not head or head.upper() in SKIP_SECTIONS or re.fullmatch(r'[\w.-]+\(\d\)', head): continue   # page title line
            for ci, (s, e) in enumerate(chunk_windows(text, size, overlap)):
                chunk = text[s:e]
                if len(chunk.split()) >= min_words:
                    out.append({'id': f'git-{stem}-{si:03d}-{ci:02d}', 'title': f'{stem}: {head}', 'text': chunk})
    return out

def corpus_sha256(corpus:list[dict])->str:
    "Fingerprint of a corpus (ids, titles and texts, in order)."
    return hashlib.sha256(''.join(json.dumps(p, ensure_ascii=False, sort_keys=True) + '\n' for p in corpus).encode()).hexdigest()

def git_doc_version()->str:
    "The installed git-doc package version, or '?' where dpkg can't tell."
    try: return subprocess.run(['dpkg-query', '-W', '-f=${Version}', 'git-doc'], capture_output=True, text=True, timeout=30).stdout.strip() or '?'
    except (OSError, subprocess.SubprocessError): return '?'

def content_words(text:str)->set:
    "Lower-cased alphabetic words longer than 3 letters."
    return {w for w in re.findall(r'[a-z]+', text.lower()) if len(w) > 3}

def longest_copy(answer:str, source:str)->int:
    "Length in words of the longest run of `answer` found word for word in `source` (a paraphrase check)."
    a, src, best = re.findall(r'[a-z0-9]+', answer.lower()), ' ' + ' '.join(re.findall(r'[a-z0-9]+', source.lower())) + ' ', 0
    for i in range(len(a)):
        while i + best < len(a) and f" {' '.join(a[i:i+best+1])} " in src: best += 1
    return best

def check(src='/usr/share/doc/git-doc', qa_path=QA_PATH,
          min_support:float=0.5, # share of an answer's content words that must occur in its gold passages
          max_copy:int=10 # longest run of words an answer may copy from its gold passages
         )->int: # 0 if every check passed
    "Build the corpus, round-trip it through `load_corpus`, validate the QA file against it and check each answer against its gold passages."
    corpus = build_git_corpus(src)
    sha, version = corpus_sha256(corpus), git_doc_version()
    with tempfile.TemporaryDirectory() as d:
        corpus = load_corpus(write_jsonl(corpus, Path(d)/'git_corpus.jsonl'))
    qa = load_qa(qa_path, corpus)   # checks fields, duplicate ids and that every gold id is in the corpus
    by_id, bad, sups, copies = {p['id']: p for p in corpus}, [], [], []
    for q in qa:
        n = len(q['answer'].split())
        if q.get('answer_source') != 'curated': bad.append((q['id'], 'answer_source is not curated'))
        if not 15 <= n <= 60: bad.append((q['id'], f"answer has {n} words (want 15-60)"))
        gold_text = '\n'.join(by_id[g]['title'] + '\n' + by_id[g]['text'] for g in q['gold_ids'])
        words, gold = content_words(q['answer']), content_words(gold_text)
        sups.append(len(words & gold) / max(len(words), 1))
        copies.append(longest_copy(q['answer'], gold_text))
        if sups[-1] < min_support: bad.append((q['id'], f"support {sups[-1]:.2f}, not in gold: {' '.join(sorted(words - gold))}"))
        if copies[-1] > max_copy: bad.append((q['id'], f"copies {copies[-1]} words in a row from its gold passages"))
    for key in ('question', 'answer'):
        seen = {}
        for q in qa:
            k = ' '.join(re.findall(r'\w+', q[key].lower()))
            if k in seen: bad.append((q['id'], f'same {key} as {seen[k]}'))
            seen[k] = q['id']
    lens = [len(q['answer'].split()) for q in qa]
    print(f"passages: {len(corpus)} ({sum(len(p['text'].split()) for p in corpus)} words) from {len(FILES)} files")
    print(f"questions: {len(qa)} (gold in gitfaq: {sum(any(g.startswith('git-gitfaq-') for g in q['gold_ids']) for q in qa)}, "
          f"with 2+ gold passages: {sum(len(q['gold_ids']) > 1 for q in qa)})")
    print(f"answer words: mean {sum(lens)/len(lens):.1f}, min {min(lens)}, max {max(lens)}")
    print(f"answer content words found in gold passages: mean {sum(sups)/len(sups):.2f}, min {min(sups):.2f} (need >= {min_support})")
    print(f"longest word-for-word run copied from gold: mean {sum(copies)/len(copies):.1f}, max {max(copies)} (allowed <= {max_copy})")
    print(f"git-doc {version}, corpus sha256 {sha[:16]}")
    if sha != BUILT_FROM['sha256']:
        print(f"WARNING: this corpus differs from the one the gold ids were checked on (git-doc {BUILT_FROM['git-doc']}, "
              f"sha256 {str(BUILT_FROM['sha256'])[:16]}): ids that still exist may now point at other text; re-check the gold passages")
    for qid, why in bad: print(f"FAIL {qid}: {why}")
    print('check: ' + (f'{len(bad)} problem(s)' if bad else 'ok'))
    return 1 if bad else 0

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--src', default='/usr/share/doc/git-doc', help="git-doc asciidoc sources")
    p.add_argument('--out', help="write OUT/git_corpus.jsonl")
    p.add_argument('--check', action='store_true', help=f"validate {QA_PATH.relative_to(HERE.parent)} against a fresh build")
    a = p.parse_args(argv)
    if not (a.out or a.check): p.error('give --out DIR and/or --check')
    try:
        if a.out:
            corpus = build_git_corpus(a.src)
            path = write_jsonl(corpus, Path(a.out)/'git_corpus.jsonl')
            print(f"{path}: {len(corpus)} passages, {sum(len(c['text'].split()) for c in corpus)} words")
        return check(a.src) if a.check else 0
    except ValueError as e: sys.exit(f"gitdocs: error: {e}")

if __name__ == '__main__': sys.exit(main())
