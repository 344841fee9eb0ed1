"""The package version, in a module of its own so that every floor can read it (setup.py and
CMakeLists.txt read this line)."""
__version__ = "0.1.0"
