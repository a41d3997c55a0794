"""`python -m cli`: the `semon` command without its console script."""

from cli.main import main

main()
