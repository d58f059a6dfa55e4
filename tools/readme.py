"Write README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which is not installable everywhere)."
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def readme_text(nb=ROOT/'nbs'/'index.ipynb')->str:
    "Markdown cells as they are, code cells fenced as python, directive lines (`#|`) dropped."
    out = []
    for c in json.loads(Path(nb).read_text())['cells']:
        src = ''.join(c['source']).strip()
        if c['cell_type'] == 'markdown': out.append(src)
        elif c['cell_type'] == 'code':
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
            if code: out.append(f"```python\n{code}\n```")
    return '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    (ROOT/'README.md').write_text(readme_text())
    print('README.md written from nbs/index.ipynb')
