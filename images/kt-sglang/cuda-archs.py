"""List the CUDA architectures embedded in ELF shared objects: the SASS (cubin) and PTX SM numbers
of every fatbin entry (fatbin.py)."""
import sys
from collections import defaultdict

from fatbin import PTX, entries

for path in sys.argv[1:]:
    found = defaultdict(set)
    with open(path, "rb") as binary:
        for entry in entries(binary.read()):
            found["ptx" if entry.kind == PTX else "sass"].add(entry.arch)
    print(f"{path}: sass={sorted(found['sass'])} ptx={sorted(found['ptx'])}")
