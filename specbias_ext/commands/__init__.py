"""The `specbias` commands: ``cli`` (the argparse front) dispatches to ``train``, ``analyze``
and ``reproduce``; each command module holds only its flag handling and calls the library."""
