"""``python -m filterfit``: the same as the ``filterfit`` command."""

from .cli import main

main()
