"""`python -m vasoguide` runs the command line."""

from .cli import main

main()
