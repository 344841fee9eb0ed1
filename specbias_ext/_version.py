"""The package version, in one place (setup.py and CMakeLists.txt read this line)."""
__version__ = "0.1.0"
