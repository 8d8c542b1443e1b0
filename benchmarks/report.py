"""Writing a benchmark's rows: JSON lines (one per row, with the machine's name) and a bar chart."""
import json
import os
import platform

import numpy as np


def write_jsonl(rows, out, stem):
    """Write the rows to OUT/STEM.jsonl (each with the machine's name); returns OUT/STEM."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, stem)
    with open(path + '.jsonl', 'w') as f:
        for r in rows:
            f.write(json.dumps(dict(r, machine=platform.node())) + '\n')
    return path


def write_table(rows, out, stem, command, text):
    """OUT/STEM.txt: ``# command`` then the table ``text``; and the rows as OUT/STEM.jsonl."""
    path = write_jsonl(rows, out, stem)
    with open(path + '.txt', 'w') as f:
        f.write(f'# {command}\n{text}\n')


def write(rows, out, stem, keys, ylabel, x='molecule'):
    """JSON lines and a bar chart of ``keys`` per row."""
    path = write_jsonl(rows, out, stem)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(rows) + 2), 4))
    pos = np.arange(len(rows))
    width = 0.8 / len(keys)
    for i, k in enumerate(keys):
        ax.bar(pos + (i - (len(keys) - 1) / 2) * width, [r[k] for r in rows], width, label=k)
    ax.set_xticks(pos, [str(r[x]) for r in rows], rotation=40, ha='right', fontsize=8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path + '.png', dpi=100)
    plt.close(fig)
    print(f'wrote {path}.jsonl and .png')
