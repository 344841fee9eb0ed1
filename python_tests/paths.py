"""Where things are, for tests that read the source tree (docs, examples, build files)."""
import os

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
