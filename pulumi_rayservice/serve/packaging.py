"""Package a local app directory as a Serve ``working_dir`` for a cluster on this machine.

Serve's REST API cannot upload a local directory: ``runtime_env.working_dir`` must be a URI every
Ray node can fetch. For a local Ray (``ray start --head``) a ``file://`` zip is such a URI. The zip
is named by its content's digest, because Ray caches a working_dir by URI: new code must get a new
URI, or the cluster would keep running the old package. For a real cluster, upload the zip (S3,
GCS, an https server) and use that URI instead.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

EXCLUDED_PARTS = {"__pycache__", ".git", ".venv", ".build"}


def zip_working_dir(directory: str | Path, out_dir: str | Path | None = None) -> str:
    """Zip ``directory`` (its files at the zip's top level); return the zip's ``file://`` URI.

    The same content always gives the same file and URI (entries sorted, timestamps fixed).

    Args:
        directory: the app's code, e.g. ``examples/fruit_stand/app``.
        out_dir: where to write the zip; default: ``<directory>/../.build``.

    Raises:
        FileNotFoundError: ``directory`` does not exist or holds no file.

    """
    source = Path(directory).resolve()
    files = sorted(
        p for p in source.rglob("*")
        if p.is_file() and not EXCLUDED_PARTS.intersection(p.relative_to(source).parts)
        and p.suffix != ".pyc"
    )  # fmt: skip
    if not files:
        raise FileNotFoundError(f"no files to package in {source}")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes())
    target_dir = Path(out_dir) if out_dir is not None else source.parent / ".build"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{source.name}-{digest.hexdigest()[:12]}.zip"
    if not target.exists():
        partial = target.with_suffix(".zip.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                info = zipfile.ZipInfo(path.relative_to(source).as_posix(), (2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        partial.replace(target)
    return target.resolve().as_uri()
