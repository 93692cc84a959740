"""`python -m ami` is the `ami` command (also what `torchrun -m ami` starts in every process)."""

from ami.cli import main

if __name__ == "__main__":  # not when a spawned worker process imports the main module again
    main()
