"""README's Python examples run as written (the blocks that start with an import)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = [block for block in re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.S | re.M)
          if block.startswith(("import ", "from "))]


@pytest.mark.docker
@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for line in code.splitlines():  # a "# expected" comment after print(...) must match what was printed
        if line.lstrip().startswith("print(") and "  # " in line:
            expected = line.split("  # ", 1)[1].split(" (")[0].split(":")[0].strip()
            assert expected in result.stdout, (expected, result.stdout)


def test_readme_has_examples_and_two_commands():
    assert len(BLOCKS) >= 3
    text = README.read_text()
    assert "make demo" in text and "make test" in text
