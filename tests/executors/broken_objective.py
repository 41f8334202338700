"""A module that fails on import with something other than ImportError."""

raise RuntimeError("this module is broken on purpose")
