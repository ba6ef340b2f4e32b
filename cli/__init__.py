"""The command-line front end (installed as `imageserver_cli`): argument parsing and output only."""
