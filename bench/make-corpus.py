#!/usr/bin/env python3
"""make-corpus.py DIR [SEED] - the scan benchmark's generated corpus.

Writes a deterministic set of files under DIR/gen (the same bytes for the
same seed and Python 3.9+ release line: random.Random.randbytes and zlib):

  2792 small files,   1-16 KiB
   180 medium files,  64 KiB - 1 MiB
     8 large files,   5-10 MiB
    20 zip archives,  2-6 text members each (64 KiB - 1 MiB of text)

Each non-zip file is random bytes (about half), text made of pseudo-words
(about 40 %, windows of a seeded 4 MiB pool) or text with a run of random
bytes inside (the rest).  Files are spread over directories of 100, two
levels deep, in a shuffled order.  About 190 MiB in all.  Prints
"files bytes" of what it wrote.
"""
import os
import sys
import random
import zipfile

N_SMALL, N_MEDIUM, N_LARGE, N_ZIP = 2792, 180, 8, 20
KIB, MIB = 1024, 1024 * 1024


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: make-corpus.py DIR [SEED]")
    top = os.path.join(sys.argv[1], "gen")
    seed = int(sys.argv[2]) if len(sys.argv) == 3 else 20251125
    rng = random.Random(seed)

    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 11)))
             for _ in range(4000)]

    # Text: windows of a 4 MiB pool of pseudo-word lines (fast, and each
    # file's bytes still differ).
    lines, size = [], 0
    while size < 4 * MIB:
        line = " ".join(rng.choices(words, k=rng.randint(4, 16))) + "\n"
        lines.append(line)
        size += len(line)
    pool = "".join(lines).encode()

    def text(n):
        out = b""
        while len(out) < n:
            at = rng.randrange(len(pool) - 1)
            out += pool[at:at + n - len(out)]
        return out

    def content(n):
        kind = rng.random()
        if kind < 0.5:
            return rng.randbytes(n)
        if kind < 0.9:
            return text(n)
        cut = rng.randint(0, n // 2)
        blob = rng.randbytes(n // 4)
        return (text(cut) + blob + text(n))[:n]

    plan = ([("small", rng.randint(1 * KIB, 16 * KIB)) for _ in range(N_SMALL)] +
            [("medium", rng.randint(64 * KIB, 1 * MIB)) for _ in range(N_MEDIUM)] +
            [("large", rng.randint(5 * MIB, 10 * MIB)) for _ in range(N_LARGE)] +
            [("zip", 0) for _ in range(N_ZIP)])
    rng.shuffle(plan)

    files = total = 0
    for i, (kind, size) in enumerate(plan):
        d = os.path.join(top, "g%02d" % (i // 1000), "d%03d" % (i // 100))
        os.makedirs(d, exist_ok=True)
        if kind == "zip":
            path = os.path.join(d, "f%05d.zip" % i)
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                for m in range(rng.randint(2, 6)):
                    info = zipfile.ZipInfo("doc/part%02d.txt" % m, date_time=(2025, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    z.writestr(info, text(rng.randint(64 * KIB, 1 * MIB)))
        else:
            path = os.path.join(d, "f%05d.%s" % (i, rng.choice(["bin", "dat", "txt", "log", "doc"])))
            with open(path, "wb") as f:
                f.write(content(size))
        files += 1
        total += os.path.getsize(path)
    print(files, total)


if __name__ == "__main__":
    main()
