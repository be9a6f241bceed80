#!/usr/bin/env bash
# Pack what a lent GPU machine needs to train (scripts/gpu_batch.sh) into .gpu/, an ignored folder that the
# device tool carries: FER2013 as one uncompressed zip (61.6 MB: the JPEGs as they are), the FER+ votes
# gzipped, and the Keras wheels the machine lacks. The data never enters git: .gpu/ is excluded locally.
# Usage: bash scripts/gpu_pack.sh [DATA_DIR]   (default ../shared/data/fer2013, votes beside it in ferplus/)
set -euo pipefail
cd "$(dirname "$0")/.."
data="$(cd "${1:-../shared/data/fer2013}" && pwd)"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
mkdir -p .gpu/whl
rm -f .gpu/fer2013.zip.part
(cd "$data" && zip -0 -q -r -X "$OLDPWD/.gpu/fer2013.zip.part" train test)
mv .gpu/fer2013.zip.part .gpu/fer2013.zip
gzip -9 -c "$data/../ferplus/labels.csv" > .gpu/labels.csv.gz
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    -d .gpu/whl keras==3.15.1 namex==0.1.0 optree==0.20.0
du -sh .gpu
