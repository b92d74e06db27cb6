"""bench: a harness that measures how long a dependency recurrent models can learn."""

__version__ = "0.1.0"
