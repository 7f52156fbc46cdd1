"""List the CUDA architectures embedded in ELF shared objects: parse every fatbin container
(magic 0xBA55ED50) and each entry's kind (1 = PTX, 2 = ELF cubin) and SM number."""
import struct, sys
from collections import defaultdict

def archs(path):
    data = open(path, 'rb').read()
    found = defaultdict(set)
    start = 0
    while True:
        i = data.find(b'\x50\xed\x55\xba', start)
        if i < 0: break
        start = i + 4
        try:
            magic, version, hsize, fsize = struct.unpack_from('<IHHQ', data, i)
        except struct.error:
            break
        if version != 1 or hsize != 16: continue
        pos, end = i + hsize, i + hsize + fsize
        while pos < end and pos + 32 <= len(data):
            kind, _, ehs, size = struct.unpack_from('<HHIQ', data, pos)
            arch = struct.unpack_from('<I', data, pos + 28)[0]
            if ehs == 0 or kind not in (1, 2): break
            found['ptx' if kind == 1 else 'sass'].add(arch)
            pos += ehs + size
    return found

for path in sys.argv[1:]:
    f = archs(path)
    print(f"{path}: sass={sorted(f['sass'])} ptx={sorted(f['ptx'])}")
