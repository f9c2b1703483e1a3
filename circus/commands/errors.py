"""``circus.commands.errors`` of the original Circus: the control-channel error numbers."""

from circus.errors import Errno

NOT_SPECIFIED = Errno.NOT_SPECIFIED
INVALID_JSON = Errno.INVALID_JSON
UNKNOWN_COMMAND = Errno.UNKNOWN_COMMAND
MESSAGE_ERROR = Errno.MESSAGE_ERROR
OS_ERROR = Errno.OS_ERROR
COMMAND_ERROR = Errno.COMMAND_ERROR
BAD_MSG_DATA_ERROR = Errno.BAD_MSG_DATA_ERROR
