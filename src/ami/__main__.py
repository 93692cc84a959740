"""`python -m ami` is the `ami` command."""

from ami.cli import main

main()
