"""Small files of a run folder through the same filesystem layer as Ray Tune's results (pyarrow).

A run folder is a local path or an object-store URI (``s3://``, ``gs://``);
``study.json`` and ``provenance.json`` go wherever the trials' results go,
so a run stored remotely can be analysed like a local one. Schemes pyarrow
has no filesystem for (``memory://``, ...) are opened through fsspec.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs


def is_uri(path: str | Path) -> bool:
    return "://" in str(path)


def resolve(path: str | Path, filesystem: pafs.FileSystem | None = None) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path within it) for a local path or a URI."""
    if filesystem is not None:
        return filesystem, str(path)
    if not is_uri(path):
        return pafs.LocalFileSystem(), str(Path(path).expanduser().resolve())
    try:
        return pafs.FileSystem.from_uri(str(path))
    except pa.ArrowInvalid:  # a scheme pyarrow has no filesystem for
        try:
            import fsspec
        except ImportError:
            raise ValueError(f"{path}: unknown storage scheme (fsspec is not installed)") from None
        fs, inner = fsspec.core.url_to_fs(str(path))
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), inner


def join(base: str | Path, *parts: str) -> str:
    return posixpath.join(str(base).rstrip("/"), *parts) if is_uri(base) else str(Path(base, *parts))


def list_names(folder: str | Path) -> list[str]:
    """Names of the entries directly in ``folder`` (files and folders); [] when it does not exist."""
    fs, inner = resolve(folder)
    if fs.get_file_info(inner).type != pafs.FileType.Directory:
        return []
    return sorted(info.base_name for info in fs.get_file_info(pafs.FileSelector(inner)))


def read_bytes(path: str | Path, filesystem: pafs.FileSystem | None = None) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    fs, inner = resolve(path, filesystem)
    if fs.get_file_info(inner).type != pafs.FileType.File:
        return None
    with fs.open_input_stream(inner) as fh:
        return fh.read()


def read_text(path: str | Path, filesystem: pafs.FileSystem | None = None) -> str | None:
    """The file's text, or None when it does not exist."""
    data = read_bytes(path, filesystem)
    return None if data is None else data.decode()


def write_text(path: str | Path, text: str, filesystem: pafs.FileSystem | None = None) -> None:
    """Write ``text``; locally through a temporary name, so readers never see half a file."""
    write_bytes(path, text.encode(), filesystem)


def write_bytes(path: str | Path, data: bytes, filesystem: pafs.FileSystem | None = None) -> None:
    """Write ``data``; locally through a temporary name, so readers never see half a file."""
    fs, inner = resolve(path, filesystem)
    fs.create_dir(posixpath.dirname(inner), recursive=True)
    if isinstance(fs, pafs.LocalFileSystem):
        tmp = Path(inner).with_name(Path(inner).name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(inner)
        return
    with fs.open_output_stream(inner) as fh:  # object stores write whole objects anyway
        fh.write(data)


def delete(path: str | Path) -> None:
    """Remove a file (nothing when it is absent)."""
    fs, inner = resolve(path)
    if fs.get_file_info(inner).type == pafs.FileType.File:
        fs.delete_file(inner)
