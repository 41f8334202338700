"""``python -m tuner.client worker STUDY --objective module:function``."""

from tuner.client.worker import main

if __name__ == "__main__":
    raise SystemExit(main())
