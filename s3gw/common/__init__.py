"""Pure helpers every layer may use: no third-party imports, no other s3gw layer, and no I/O beyond
reading the package's own version once (``version.py``)."""
