#!/usr/bin/env python3
"""catch_discover_tests turns each Catch2 test case into a CTest test, but a name holding ';',
'[' or ']' breaks CMake's list handling and silently merges many cases into one entry that runs
nothing. This check keeps every test name discoverable. Usage: check_test_names.py LUMEN_TESTS"""
import subprocess
import sys

# Catch2 v2 exits with the number of tests listed, so the exit code says nothing here.
names = subprocess.run([sys.argv[1], "--list-test-names-only"], capture_output=True, text=True).stdout.splitlines()
if not names:
    sys.exit(f"{sys.argv[1]} listed no tests")
bad = [n for n in names if any(c in n for c in ";[]")]
if bad:
    sys.exit("test names that CTest cannot discover (drop ';', '[' and ']'):\n  " + "\n  ".join(bad))
print(f"{len(names)} test names, all discoverable")
