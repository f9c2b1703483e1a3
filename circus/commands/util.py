"""``circus.commands.util`` of the original Circus: watcher options from circusctl and the wire."""

from circus.control.options import convert_cli_option as convert_option
from circus.control.options import validate_option

__all__ = ["convert_option", "validate_option"]
