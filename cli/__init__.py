"""The `semon` command: the entry point above every service.

`main` holds the app and one subcommand per process, `admin` the one-off
commands (schema, registry import, tokens, broker files), `up` the whole
platform in one process, `process` what every subcommand does first.
"""
