"""One module per `prm` subcommand: `add_arguments(parser)` and `run(args) -> int`."""
