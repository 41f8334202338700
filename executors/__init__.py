"""Where trials run: implementations of ``tuner.executor.Executor``, found by name through the
``tuner.executors`` entry points (``local`` runs each trial in a child process on this machine)."""
