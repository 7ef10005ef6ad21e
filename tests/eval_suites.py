"""Small suites for the eval tests: real tasks, few episodes."""

from __future__ import annotations

import json
from pathlib import Path

ADD = {"task_id": "mini/add", "entry_point": "add", "canonical_solution": "    return a + b\n",
       "prompt": 'def add(a, b):\n    """Return a + b.\n    >>> add(1, 2)\n    3\n    """\n',
       "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n"}
NEG = {"task_id": "mini/neg", "entry_point": "neg", "canonical_solution": "    return -x\n",
       "prompt": 'def neg(x):\n    """Return -x.\n    >>> neg(2)\n    -2\n    """\n',
       "test": "def check(candidate):\n    assert candidate(2) == -2\n"}
# a reference solution that fails its own tests: the oracle gets it wrong, so outcomes are mixed
MUL = {"task_id": "mini/mul", "entry_point": "mul", "canonical_solution": "    return a + b\n",
       "prompt": 'def mul(a, b):\n    """Return a * b.\n    >>> mul(2, 2)\n    4\n    """\n',
       "test": "def check(candidate):\n    assert candidate(2, 2) == 4\n    assert candidate(2, 3) == 6\n"}


def mixed_suite(folder: Path, version: int = 1) -> Path:
    (folder / "mini.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (ADD, NEG, MUL)))
    (folder / "gsm.jsonl").write_text("".join(
        json.dumps({"question": f"Sam has {i} apples and buys {i + 1} more. How many now?",
                    "answer": f"{i} + {i + 1} = {2 * i + 1}\n#### {2 * i + 1}"}) + "\n" for i in range(2)))
    path = folder / "mixed.yaml"
    path.write_text(f"""name: mixed
version: {version}
seed: 11
attempts: 2
k: [1, 2]
task_sets:
  - {{name: mini, env: selfgym/Code-v0, file: mini.jsonl, env_kwargs: {{max_steps: 1}}}}
  - {{name: shell, env: selfgym/Shell-v0, ids: [shell/text-001], env_kwargs: {{max_steps: 4}}}}
  - {{name: gsm, env: selfgym/Math-v0, file: gsm.jsonl}}
""")
    return path


def he_suite(folder: Path, tasks: int, attempts: int = 1) -> Path:
    """The first ``tasks`` HumanEval problems, one reply per episode."""
    path = folder / "he.yaml"
    path.write_text(f"name: he\nversion: 1\nattempts: {attempts}\ntask_sets:\n  - {{name: humaneval, "
                    f"env: selfgym/Code-v0, env_kwargs: {{max_steps: 1}}, limit: {tasks}}}\n")
    return path
