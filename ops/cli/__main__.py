"""`python -m ops.cli` works as well as the installed `nearmiss` script."""

from ops.cli import main

main()
