"""OpenCV's side of `cargo xtask bench-camera`.

The same work as Vitrine's camera stage on the same clip, on one thread:
each gray frame box-downsampled by the same factor (INTER_AREA), an MOG2
background subtractor (shadows, at least 70 % as bright as the
background, marked and dropped), the mask opened and closed, external
contours, their centroids (small ones dropped), a nearest-centroid
tracker, and crossings of the counting line segment per direction.
Prints one JSON line: frames, seconds (reading and processing), inward,
outward, OpenCV's version.

Usage: camera_opencv.py CLIP.y4m --line AX AY BX BY --inside X Y --factor F
(points in fractions of width and height, y from the top).
"""

import argparse
import json
import sys
import time

import cv2
import numpy as np

# As Vitrine's stage: blobs under this share of the internal picture are
# noise; tracks end after this many frames unseen.
MIN_AREA_SHARE = 0.0015
MAX_MISSED = 5
# A detection joins the nearest track within this share of the height.
MAX_JUMP_SHARE = 0.15


def side(a, b, p):
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def crosses(a, b, p, q):
    """Whether the move p -> q crosses the segment a b (sides differ and
    the segment is met)."""
    s0, s1 = side(a, b, p), side(a, b, q)
    if (s0 > 0) == (s1 > 0):
        return False
    sa, sb = side(p, q, a), side(p, q, b)
    return not ((sa > 0 and sb > 0) or (sa < 0 and sb < 0))


class Tracker:
    """Greedy nearest-centroid association; a track counts a crossing when
    its centroid's move from the last frame crosses the line."""

    def __init__(self, a, b, inside, max_jump):
        self.a, self.b = a, b
        self.inside_positive = side(a, b, inside) > 0
        self.max_jump2 = max_jump * max_jump
        self.tracks = []  # [x, y, missed]
        self.inward = 0
        self.outward = 0

    def update(self, detections):
        pairs = []
        for ti, t in enumerate(self.tracks):
            for di, d in enumerate(detections):
                d2 = (t[0] - d[0]) ** 2 + (t[1] - d[1]) ** 2
                if d2 <= self.max_jump2:
                    pairs.append((d2, ti, di))
        pairs.sort()
        used_t, used_d = set(), set()
        for _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            t, d = self.tracks[ti], detections[di]
            if crosses(self.a, self.b, (t[0], t[1]), d):
                if (side(self.a, self.b, d) > 0) == self.inside_positive:
                    self.inward += 1
                else:
                    self.outward += 1
            t[0], t[1], t[2] = d[0], d[1], 0
        kept = []
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t[2] += 1
            if t[2] <= MAX_MISSED:
                kept.append(t)
        for di, d in enumerate(detections):
            if di not in used_d:
                kept.append([d[0], d[1], 0])
        self.tracks = kept


def read_header(f):
    line = f.readline()
    if not line.startswith(b"YUV4MPEG2 ") or not line.endswith(b"\n"):
        sys.exit("not a YUV4MPEG2 clip")
    tags = {t[:1]: t[1:] for t in line.split()[1:]}
    if tags.get(b"C", b"mono") != b"mono":
        sys.exit("the clip must be gray (Cmono)")
    return int(tags[b"W"]), int(tags[b"H"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("clip")
    p.add_argument("--line", nargs=4, type=float, required=True)
    p.add_argument("--inside", nargs=2, type=float, required=True)
    p.add_argument("--factor", type=int, required=True)
    args = p.parse_args()
    cv2.setNumThreads(1)

    with open(args.clip, "rb") as f:
        w, h = read_header(f)
        fct = args.factor
        sw, sh = w // fct, h // fct
        a = (args.line[0] * sw, args.line[1] * sh)
        b = (args.line[2] * sw, args.line[3] * sh)
        inside = (args.inside[0] * sw, args.inside[1] * sh)
        tracker = Tracker(a, b, inside, MAX_JUMP_SHARE * sh)
        min_area = MIN_AREA_SHARE * sw * sh
        mog = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=True)
        # A shadow keeps at least 70 % of the floor's brightness (the default
        # 50 % takes dark clothes for shadows and loses people).
        mog.setShadowThreshold(0.7)
        open_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        close_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        head = bytearray(6)
        buf = bytearray(w * h)
        frame = np.frombuffer(buf, dtype=np.uint8).reshape(h, w)
        frames = 0
        started = time.perf_counter()
        while True:
            n = f.readinto(head)
            if n == 0:
                break
            if n != 6 or head != b"FRAME\n" or f.readinto(buf) != len(buf):
                sys.exit(f"frame {frames}: truncated or bad frame header")
            small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA) if fct > 1 else frame
            fg = mog.apply(small)
            # Shadows are marked 127: foreground only.
            _, mask = cv2.threshold(fg, 200, 255, cv2.THRESH_BINARY)
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, open_k)
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, close_k)
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            detections = []
            for c in contours:
                m = cv2.moments(c)
                if m["m00"] >= min_area:
                    detections.append((m["m10"] / m["m00"], m["m01"] / m["m00"]))
            tracker.update(detections)
            frames += 1
        seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "frames": frames,
                "seconds": seconds,
                "inward": tracker.inward,
                "outward": tracker.outward,
                "opencv": cv2.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
