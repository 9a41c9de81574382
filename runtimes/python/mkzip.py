"""Packs CPython's pure-Python stdlib into an uncompressed zip for the WASI
runtime. Run with the build Python (the same 3.11 as the source, so its
bytecode matches):

    python3.11 mkzip.py SRC_LIB SYSCONFIGDATA OUT_ZIP ZIP_PATH_IN_GUEST

Each module is stored as source and as unchecked-hash bytecode (PEP 552):
zipimport loads the bytecode without compiling or checking mtimes, and
tracebacks still show source lines (linecache reads them from the zip).
Tests, GUI and packaging tools that cannot run under WASI are left out.
A module with a file of the same relative path in stdlib-additions/ (next
to this script) gets that file appended to its source.
"""
import importlib.util
import os
import py_compile
import sys
import zipfile

# Directories (relative to Lib/) and files left out of the zip.
SKIP_DIRS = {
    "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo",
    "ensurepip", "lib2to3", "distutils", "pydoc_data", "venv", "msilib",
    "__pycache__", "site-packages",
}
SKIP_FILES = {"turtle.py", "this.py", "antigravity.py"}
ADDITIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stdlib-additions")


def main(lib, sysconfigdata, out, guest_zip):
    files = []
    for root, dirs, names in os.walk(lib):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("plat-"))
        for name in sorted(names):
            if name.endswith(".py") and name not in SKIP_FILES:
                path = os.path.join(root, name)
                files.append((path, os.path.relpath(path, lib)))
    files.append((sysconfigdata, os.path.basename(sysconfigdata)))
    tmp = out + ".tmp"
    pyc = out + ".pyc.tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        for path, rel in files:
            # A fixed date keeps the zip reproducible.
            info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
            with open(path, "rb") as f:
                src = f.read()
            addition = os.path.join(ADDITIONS, rel)
            if os.path.exists(addition):
                with open(addition, "rb") as f:
                    src += f.read()
                path = out + ".src.tmp"
                with open(path, "wb") as f:
                    f.write(src)
            z.writestr(info, src)
            py_compile.compile(
                path, cfile=pyc, dfile=guest_zip + "/" + rel, doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            info = zipfile.ZipInfo(rel + "c", date_time=(2020, 1, 1, 0, 0, 0))
            with open(pyc, "rb") as f:
                z.writestr(info, f.read())
    os.remove(pyc)
    if os.path.exists(out + ".src.tmp"):
        os.remove(out + ".src.tmp")
    os.replace(tmp, out)
    print(f"{out}: {len(files)} modules", file=sys.stderr)


if __name__ == "__main__":
    if importlib.util.MAGIC_NUMBER is None or len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
