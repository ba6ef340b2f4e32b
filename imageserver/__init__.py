"""imageserver: an on-demand image server on libvips."""

__version__ = "0.1.0"
