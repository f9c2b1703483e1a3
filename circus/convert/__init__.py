"""Translations of other process managers' configurations into Circus INI files
(``circus-convert``)."""
