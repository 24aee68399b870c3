"""Checks that no code compiled for an AVX capability can run outside it (docs/design.md, "CPU capabilities").

Disassembles a built homotopt library (the Python module _core*.so or libhomotopt.a) and lists every
function that uses a VEX- or EVEX-encoded instruction (AVX, AVX2, FMA, AVX-512: mnemonics v...) but is
neither in a capability's namespace (homotopt::cpu::avx2, ::avx512), nor renamed for it at build time
(homotopt_avx2.<name>, cmake/isolate_objects.cmake), nor a compiler-made local clone (.isra, .constprop,
.part, .cold: local to the object it was compiled in). Any such function is one the linker may share
with code that runs on every CPU: a SIGILL on a CPU without AVX. Exit status 1 if there is one.

Run: python tools/check_cpu_isolation.py build/dev/_core*.so
"""

from __future__ import annotations

import re
import subprocess
import sys

CAPABILITY = re.compile(r"homotopt_avx(2|512)\.|8homotopt3cpu(4avx2|6avx512)")
LOCAL_CLONE = re.compile(r"\.(isra|constprop|part|cold|lto_priv)\b")
FUNCTION = re.compile(r"^[0-9a-f]+ <(.+)>:$")
AVX = re.compile(r"^\s*[0-9a-f]+:\s+v(?!err|erw)[a-z0-9]+\b")


def leaks(path: str) -> tuple[int, list[str]]:
    """(functions with AVX code, those outside the capabilities) of the library at `path`."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], check=True, capture_output=True,
                         text=True).stdout
    with_avx: set[str] = set()
    name = ""
    for line in out.splitlines():
        m = FUNCTION.match(line)
        if m:
            name = m.group(1)
        elif name and name not in with_avx and AVX.match(line):
            with_avx.add(name)
    bad = sorted(n for n in with_avx if not CAPABILITY.search(n) and not LOCAL_CLONE.search(n))
    return len(with_avx), bad


def main() -> int:
    status = 0
    for path in sys.argv[1:]:
        total, bad = leaks(path)
        print(f"{path}: {total} functions use AVX instructions, {len(bad)} outside a CPU capability")
        for n in bad[:50]:
            print("  ", n)
        status |= bool(bad)
    return status


if __name__ == "__main__":
    sys.exit(main())
