"""``python -m selfgym``: the same as the ``selfgym`` command."""

from .cli import main

main()
