"""The replay corpus: small notebooks written for `run.replay()`, each with the verdict it must get.

Each case is a list of (cell id, source) cells run top to bottom (or in `order`, ids, when the
user ran them out of notebook order) in a real kernel, whose last cell ran is the `%%mlrun` cell
that made the run; `files` are written into the notebook's folder first (they are in the snapshot).
`verdict` is what the replay must say; `first` the first diverging cell's id; `cause` a piece of the
likely cause it must name (None: it must name none). Execution counts start at 2: the harness's
``%load_ext`` is In[1] (and, run before the extension, is not recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    cells: list[tuple[str, str]]
    verdict: str
    first: str | None = None
    cause: str | None = None
    order: list[str] | None = None
    files: dict[str, str] = field(default_factory=dict)
    edit: dict[str, str] = field(default_factory=dict)  # cell id -> source saved after it ran


RUN = "%%mlrun -n corpus\nimport jupyter_mlws as mlws\n"

CASES = [
    Case(
        "seeded numpy",
        [
            ("setup", "import numpy as np\nnp.random.seed(7)"),
            ("draw", "x = np.random.rand(4)\nprint(x)"),
            ("run", RUN + "mlws.log_metric('mean', float(x.mean()))\nprint(round(float(x.mean()), 6))"),
        ],
        "reproduced",
    ),
    Case(
        "unseeded numpy",
        [
            ("setup", "import numpy as np"),
            ("draw", "x = np.random.rand(4)\nprint(x)"),
            ("run", RUN + "mlws.log_metric('mean', float(x.mean()))"),
        ],
        "diverged",
        first="draw",
        cause="cell draw (In[3]) uses randomness without a seed: np.random.rand",
    ),
    Case(
        "numpy generator with a seed",
        [
            ("setup", "import numpy as np\nrng = np.random.default_rng(42)"),
            ("draw", "print(rng.normal(size=3))"),
            ("run", RUN + "mlws.log_metric('v', float(rng.random()))"),
        ],
        "reproduced",
    ),
    Case(
        "numpy generator without a seed",
        [
            ("setup", "import numpy as np\nrng = np.random.default_rng()"),
            ("run", RUN + "v = float(rng.random())\nmlws.log_metric('v', v)"),
        ],
        "diverged",
        first="run",
        cause="cell setup (In[2]) uses randomness without a seed: np.random.default_rng",
    ),
    Case(
        "python random seeded",
        [
            ("setup", "import random\nrandom.seed(3)"),
            ("run", RUN + "print(random.randint(0, 10**9))"),
        ],
        "reproduced",
    ),
    Case(
        "python random unseeded",
        [
            ("setup", "import random"),
            ("run", RUN + "print(random.randint(0, 10**9))"),
        ],
        "diverged",
        first="run",
        cause="uses randomness without a seed: random.randint(",
    ),
    Case(
        "pandas",
        [
            (
                "frame",
                "import pandas as pd\ndf = pd.DataFrame({'g': list('abab'), 'v': [1.5, 2.0, 3.25, 4.0]})\ndf",
            ),
            ("group", "print(df.groupby('g').v.mean())"),
            ("run", RUN + "mlws.log_metric('total', float(df.v.sum()))"),
        ],
        "reproduced",
    ),
    Case(
        "sklearn with random_state",
        [
            (
                "data",
                "from sklearn.datasets import make_classification\n"
                "X, y = make_classification(200, random_state=0)",
            ),
            (
                "run",
                RUN + "from sklearn.ensemble import RandomForestClassifier\n"
                "m = RandomForestClassifier(20, random_state=1).fit(X, y)\n"
                "mlws.log_metric('acc', m.score(X, y))\nprint(m.score(X, y))",
            ),
        ],
        "reproduced",
    ),
    Case(
        "sklearn split without random_state",
        [
            (
                "data",
                "from sklearn.datasets import make_classification\n"
                "from sklearn.model_selection import train_test_split\n"
                "X, y = make_classification(300, random_state=0)\n"
                "Xa, Xb, ya, yb = train_test_split(X, y)",
            ),
            (
                "run",
                RUN + "from sklearn.linear_model import LogisticRegression\n"
                "model = LogisticRegression().fit(Xa, ya)\n"
                "mlws.log_metric('acc', model.score(Xb, yb))\n"
                "mlws.log_metric('test_sum', float(Xb.sum()))",
            ),
        ],
        "diverged",
        first="run",
        cause="cell data (In[2]) uses randomness without a seed: train_test_split(",
    ),
    Case(
        "reads a file of the snapshot",
        [
            ("read", "import csv\nrows = list(csv.reader(open('data.csv')))\nprint(len(rows), rows[1])"),
            ("run", RUN + "mlws.log_metric('rows', len(rows))"),
        ],
        "reproduced",
        files={"data.csv": "a,b\n1,2\n3,4\n"},
    ),
    Case(
        "writes then reads a file",
        [
            ("write", "open('out.txt', 'w').write('hello\\n' * 3)"),
            ("read", "print(open('out.txt').read().count('hello'))"),
            ("run", RUN + "mlws.log_metric('n', 3)"),
        ],
        "reproduced",
    ),
    Case(
        "matplotlib plot",
        [
            (
                "plot",
                "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                "from IPython.display import Image, display\n"
                "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([1, 3, 2])\nfig.savefig('p.png')\n"
                "display(Image('p.png'))",
            ),
            ("run", RUN + "mlws.log_metric('points', 3)"),
        ],
        "reproduced",
    ),
    Case(
        "timestamps and addresses are volatile",
        [
            ("now", "import datetime\nprint('started', datetime.datetime.now().isoformat())"),
            ("obj", "o = object()\nprint(o)\no"),
            (
                "run",
                RUN + "import time\nt = time.perf_counter()\nprint(f'took {time.perf_counter() - t:.3f} s')",
            ),
        ],
        "reproduced",
    ),
    Case(
        "float noise within tolerance",
        [
            ("sum", "import math\nprint(sum(0.1 for _ in range(10)), math.fsum([0.1] * 10))"),
            ("run", RUN + "mlws.log_metric('s', sum(0.1 for _ in range(10)))"),
        ],
        "reproduced",
    ),
    Case(
        "cell ran before a cell above it",
        [
            ("use", "print(base * 2)"),
            ("define", "base = 21"),
            ("run", RUN + "mlws.log_metric('base', base)"),
        ],
        "reproduced",
        order=["define", "use", "run"],
    ),
    Case(
        "cell edited after it ran",
        [
            ("set", "k = 5"),
            ("run", RUN + "mlws.log_metric('k', k)\nprint(k)"),
        ],
        "reproduced",
        edit={"set": "k = 50"},
    ),
    Case(
        "Unix time is volatile",
        [
            ("clock", "import time\nprint(time.time(), int(time.time() * 1000))"),
            ("run", RUN + "mlws.log_metric('x', 1)"),
        ],
        "reproduced",
    ),
    Case(
        "a count is exact",
        [
            (
                "count",
                "import os\n"
                "n = int(open('count.txt').read()) + 1 if os.path.exists('count.txt') else 1_000_001\n"
                "open('count.txt', 'w').write(str(n))\nprint('count', n)",
            ),
            ("run", RUN + "mlws.log_metric('x', 1)"),
        ],
        "diverged",
        first="count",
        cause=None,
    ),
    Case(
        "process id",
        [
            ("pid", "import os\nprint('pid', os.getpid())"),
            ("run", RUN + "mlws.log_metric('x', 1)"),
        ],
        "diverged",
        first="pid",
        cause=None,
    ),
    Case(
        "a recorded error comes back the same",
        [
            ("boom", "1 / 0"),
            ("run", RUN + "mlws.log_metric('x', 1)"),
        ],
        "reproduced",
    ),
    Case(
        "string hashing order",
        [
            ("set", "print(list({f'word-{i}' for i in range(40)}))"),
            ("run", RUN + "mlws.log_metric('x', 1)"),
        ],
        "diverged",
        first="set",
        cause=None,
    ),
    Case(
        "only a metric differs",
        [
            ("setup", "import numpy as np"),
            ("run", RUN + "mlws.log_metric('loss', float(np.random.rand()))"),
        ],
        "diverged",
        first="run",
        cause="cell run (In[3]) uses randomness without a seed: np.random.rand",
    ),
    Case(
        "torch-style seed helper",
        [
            ("setup", "import random\ndef seed_everything(s):\n    random.seed(s)\nseed_everything(11)"),
            ("run", RUN + "print(random.random())"),
        ],
        "reproduced",
    ),
]
