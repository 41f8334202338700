"""The core's ``tuner`` sub-commands (entry points of the ``tuner.commands`` group)."""
