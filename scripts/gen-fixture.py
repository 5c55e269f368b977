#!/usr/bin/env python3
"""Write a synthetic multi-arch OCI image layout for benchmarks.

    gen-fixture.py OUTDIR [--platforms 6] [--layers 5] [--layer-size 20MiB]
                          [--shared-layers 1] [--tag v1] [--seed 1]
                          [--no-attestations]

OUTDIR becomes a complete OCI image layout (oci-layout, index.json whose one
entry carries org.opencontainers.image.ref.name=TAG, blobs/sha256/...) holding
an OCI image index with N platforms (linux/amd64, linux/arm64/v8, linux/arm/v7,
linux/ppc64le, linux/s390x, linux/riscv64, then more linux/* ones). Each
platform is an OCI image manifest with its own small config and LAYERS layers;
the first SHARED-LAYERS layers are the same blob on every platform. Every
platform also gets a BuildKit-style attestation manifest (index entry with
platform unknown/unknown and vnd.docker.reference.* annotations, one small
application/vnd.in-toto+json layer).

Each layer blob is a valid gzip stream (stored blocks, no compression: the
media type is honest and no tool has a reason to recompress) of LAYER-SIZE
pseudo-random bytes, so a blob is LAYER-SIZE plus ~0.01 % framing. Blobs are
written streaming (1 MiB at a time) and hashed on the fly; memory use is
constant whatever the size. Output is deterministic for a given --seed.

Prints the index digest (sha256:...) on stdout.

Python 3.9+ standard library only.
"""

import argparse
import hashlib
import json
import os
import random
import re
import sys
import tempfile
import zlib

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_INTOTO = "application/vnd.in-toto+json"

BASE_PLATFORMS = [
    ("linux", "amd64", None),
    ("linux", "arm64", "v8"),
    ("linux", "arm", "v7"),
    ("linux", "ppc64le", None),
    ("linux", "s390x", None),
    ("linux", "riscv64", None),
    ("linux", "386", None),
    ("linux", "mips64le", None),
    ("linux", "arm", "v6"),
    ("linux", "loong64", None),
    ("linux", "mips64", None),
    ("linux", "ppc64", None),
]

CHUNK = 1 << 20


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size: {text!r} (e.g. 20MiB, 64KiB, 1GiB, 4096)")
    num = float(m.group(1))
    unit = (m.group(2) or "").upper()
    mult = {
        "": 1, "B": 1,
        "K": 1024, "KB": 1000, "KIB": 1024,
        "M": 1 << 20, "MB": 1000**2, "MIB": 1 << 20,
        "G": 1 << 30, "GB": 1000**3, "GIB": 1 << 30,
        "T": 1 << 40, "TB": 1000**4, "TIB": 1 << 40,
    }.get(unit)
    if mult is None:
        raise argparse.ArgumentTypeError(f"bad size unit: {text!r}")
    return int(num * mult)


def platforms(n):
    out = list(BASE_PLATFORMS[:n])
    i = 0
    while len(out) < n:
        out.append(("linux", f"bench{i}", None))
        i += 1
    return out


class Layout:
    def __init__(self, root):
        self.root = root
        self.blobdir = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobdir, exist_ok=True)

    def _commit(self, tmp, hexdigest):
        final = os.path.join(self.blobdir, hexdigest)
        if os.path.exists(final):
            os.unlink(tmp)
        else:
            os.replace(tmp, final)
        return "sha256:" + hexdigest

    def put_bytes(self, data):
        hexdigest = hashlib.sha256(data).hexdigest()
        final = os.path.join(self.blobdir, hexdigest)
        if not os.path.exists(final):
            with open(final + ".tmp", "wb") as f:
                f.write(data)
            os.replace(final + ".tmp", final)
        return "sha256:" + hexdigest, len(data)

    def put_json(self, obj):
        return self.put_bytes(json.dumps(obj, separators=(",", ":"), sort_keys=False).encode())

    def put_random_gzip(self, seed, payload_size):
        """Stream a gzip (stored) blob of payload_size pseudo-random bytes."""
        rng = random.Random(seed)
        h = hashlib.sha256()
        diff = hashlib.sha256()  # of the uncompressed payload: the config's diff_id
        size = 0
        comp = zlib.compressobj(0, zlib.DEFLATED, 31)  # level 0, gzip wrapper
        fd, tmp = tempfile.mkstemp(dir=self.blobdir, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            def emit(buf):
                nonlocal size
                if buf:
                    h.update(buf)
                    f.write(buf)
                    size += len(buf)

            left = payload_size
            while left > 0:
                n = min(CHUNK, left)
                raw = rng.randbytes(n)
                diff.update(raw)
                emit(comp.compress(raw))
                left -= n
            emit(comp.flush())
        return self._commit(tmp, h.hexdigest()), size, "sha256:" + diff.hexdigest()


def desc(media_type, digest, size, **extra):
    d = {"mediaType": media_type, "digest": digest, "size": size}
    d.update(extra)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--platforms", type=int, default=6)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--layer-size", type=parse_size, default=parse_size("20MiB"))
    ap.add_argument("--shared-layers", type=int, default=1)
    ap.add_argument("--tag", default="v1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-attestations", action="store_true")
    a = ap.parse_args()
    if a.platforms < 1 or a.layers < 0 or a.shared_layers < 0:
        ap.error("--platforms must be >= 1, --layers and --shared-layers >= 0")
    shared = min(a.shared_layers, a.layers)

    lay = Layout(a.outdir)
    with open(os.path.join(a.outdir, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

    shared_layers = [
        lay.put_random_gzip(a.seed * 1_000_003 + 7 * 1000 + j, a.layer_size) for j in range(shared)
    ]

    entries = []
    attestations = []
    for pi, (os_, arch, variant) in enumerate(platforms(a.platforms)):
        layers = list(shared_layers)
        for j in range(shared, a.layers):
            layers.append(lay.put_random_gzip(a.seed * 1_000_003 + (pi + 8) * 1000 + j, a.layer_size))
        plat = {"architecture": arch, "os": os_}
        if variant:
            plat["variant"] = variant
        config = {
            "created": "2024-01-01T00:00:00Z",
            "architecture": arch,
            "os": os_,
            **({"variant": variant} if variant else {}),
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                       "Cmd": ["/bin/sh"], "Labels": {"bench.platform": f"{os_}/{arch}"}},
            "rootfs": {"type": "layers", "diff_ids": [diff for _, _, diff in layers]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"bench layer {k}"}
                        for k in range(len(layers))],
        }
        cfg_d, cfg_s = lay.put_json(config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": desc(MT_CONFIG, cfg_d, cfg_s),
            "layers": [desc(MT_LAYER, d, s) for d, s, _ in layers],
        }
        man_d, man_s = lay.put_json(manifest)
        entries.append(desc(MT_MANIFEST, man_d, man_s, platform=plat))

        if a.no_attestations:
            continue
        stmt = {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://spdx.dev/Document",
            "subject": [{"name": f"pkg:docker/bench@{a.tag}?platform={os_}%2F{arch}",
                         "digest": {"sha256": man_d.split(":", 1)[1]}}],
            "predicate": {"spdxVersion": "SPDX-2.3", "name": f"bench-{arch}", "packages": []},
        }
        st_d, st_s = lay.put_json(stmt)
        att_cfg = {"architecture": "unknown", "os": "unknown", "config": {},
                   "rootfs": {"type": "layers", "diff_ids": [st_d]}}
        acfg_d, acfg_s = lay.put_json(att_cfg)
        att = {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": desc(MT_CONFIG, acfg_d, acfg_s),
            "layers": [desc(MT_INTOTO, st_d, st_s,
                            annotations={"in-toto.io/predicate-type": "https://spdx.dev/Document"})],
        }
        att_d, att_s = lay.put_json(att)
        attestations.append(desc(MT_MANIFEST, att_d, att_s,
                                 platform={"architecture": "unknown", "os": "unknown"},
                                 annotations={"vnd.docker.reference.digest": man_d,
                                              "vnd.docker.reference.type": "attestation-manifest"}))

    index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": entries + attestations}
    idx_d, idx_s = lay.put_json(index)
    top = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [desc(MT_INDEX, idx_d, idx_s,
                           annotations={"org.opencontainers.image.ref.name": a.tag})],
    }
    with open(os.path.join(a.outdir, "index.json"), "w") as f:
        json.dump(top, f, indent=2)
        f.write("\n")
    print(idx_d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
