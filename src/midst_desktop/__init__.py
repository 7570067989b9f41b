"""midst-desktop: find, classify and review your creative and academic work."""

__version__ = "0.1.0"
