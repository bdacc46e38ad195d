#!/bin/sh
# timeline_chromium.sh -- the HTML timeline (deja timeline) renders: a
# drift-fork run's page is opened in headless Chromium, which runs its
# script; the DOM it dumps must say it drew one lane per node, message
# arrows, marks and the first violation; a screenshot must show the red
# violation line and coloured marks. The page must load nothing from the
# network. Skips (status 77) where Chromium is absent
# (DEJA_WITH_CHROMIUM=1 scripts/setup-deps.sh installs it).
# usage: timeline_chromium.sh PATH_TO_DEJA
set -eu
deja=${1:?usage: timeline_chromium.sh PATH_TO_DEJA}
chrome=""
for c in chromium chromium-browser google-chrome; do
    command -v "$c" >/dev/null 2>&1 && { chrome=$c; break; }
done
if [ -z "$chrome" ]; then
    echo "timeline_chromium: SKIP: no chromium (DEJA_WITH_CHROMIUM=1 scripts/setup-deps.sh installs it)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$deja" timeline drift-fork --seed 7 --set clock.offset_ms=3000 --window 0:20 -o "$tmp/run.html" 2>"$tmp/err" ||
    { cat "$tmp/err"; exit 1; }
# self-contained: no URL the page could fetch
if grep -Eq '(src|href)="(https?:)?//' "$tmp/run.html"; then echo "timeline_chromium: the page links out"; exit 1; fi
flags="--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir=$tmp/profile"
timeout 120 "$chrome" $flags --dump-dom "file://$tmp/run.html" >"$tmp/dom" 2>/dev/null || true
body=$(grep -o '<body[^>]*>' "$tmp/dom" || true)
echo "timeline_chromium: $body"
echo "$body" | grep -q 'data-lanes="4"' || { echo "timeline_chromium: not 4 lanes drawn"; exit 1; }
echo "$body" | grep -q 'data-violations="1"' || { echo "timeline_chromium: no violation"; exit 1; }
arrows=$(echo "$body" | sed -n 's/.*data-arrows="\([0-9]*\)".*/\1/p')
marks=$(echo "$body" | sed -n 's/.*data-marks="\([0-9]*\)".*/\1/p')
[ "${arrows:-0}" -gt 20 ] || { echo "timeline_chromium: $arrows arrows drawn"; exit 1; }
[ "${marks:-0}" -gt 20 ] || { echo "timeline_chromium: $marks marks drawn"; exit 1; }
timeout 120 "$chrome" $flags --window-size=1200,500 --screenshot="$tmp/shot.png" "file://$tmp/run.html" >/dev/null 2>&1 || true
[ -s "$tmp/shot.png" ] || { echo "timeline_chromium: no screenshot"; exit 1; }
if command -v python3 >/dev/null 2>&1; then
    python3 - "$tmp/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w = 8, b'', 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        assert depth == 8 and ctype in (2, 6), 'unexpected PNG format'
        bpp = 3 if ctype == 2 else 4
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
red = coloured = 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(w):
        r, g, bl = line[x * bpp:x * bpp + 3]
        if r > 200 and g < 40 and bl < 40: red += 1
        if max(r, g, bl) - min(r, g, bl) > 60: coloured += 1
    prev = line
print('timeline_chromium: screenshot %dx%d, %d violation-red pixels, %d coloured pixels' % (w, h, red, coloured))
assert red > 200, 'no violation line in the screenshot'
assert coloured > 1000, 'no coloured marks in the screenshot'
PY
fi
echo "timeline_chromium: ok"
