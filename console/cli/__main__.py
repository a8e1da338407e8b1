"""`python -m console.cli ...` is the same as `tollgate ...`."""

from console.cli import main

main()
