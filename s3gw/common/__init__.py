"""Pure helpers every layer may use: no I/O, no third-party imports, no other s3gw layer."""
