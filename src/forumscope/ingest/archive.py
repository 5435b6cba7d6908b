"""Safe unpacking of .zip, .tar, .tar.gz/.tgz archives.

Rules (SAFETY.md and the hostile-input tests):
- a member with an absolute path, a ``..`` component, a link or a device is refused and never written;
- media bytes (images, video, audio), recognised by extension or by their first bytes, are skipped and
  counted, never written;
- an archive with more members, or expanding to more bytes, than the case allows is refused as a whole;
  the size is counted while unpacking, so a lying header cannot get past it.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Iterator

from forumscope.errors import InputError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
MEDIA_EXTENSIONS = {
    "jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "heic", "heif", "ico", "psd", "svg", "avif",
    "mp4", "m4v", "mov", "avi", "mkv", "webm", "wmv", "flv", "3gp", "mpg", "mpeg", "ts",
    "mp3", "wav", "ogg", "oga", "flac", "m4a", "aac", "wma", "opus",
}
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF",
          b"ID3", b"OggS", b"fLaC", b"\x1a\x45\xdf\xa3", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"8BPS")


def is_archive(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and name.endswith(ARCHIVE_SUFFIXES)


def looks_like_media(name: str, head: bytes) -> bool:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in MEDIA_EXTENSIONS:
        return True
    if any(head.startswith(m) for m in _MAGIC):
        return True
    return len(head) >= 12 and head[4:8] == b"ftyp"  # MP4 / MOV / HEIC / AVIF


def unsafe_name(name: str) -> str | None:
    """Why a member name is unsafe, or None."""
    if not name or "\x00" in name:
        return "empty or NUL in name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "absolute path"
    if any(part == ".." for part in PurePosixPath(norm).parts):
        return "'..' in path"
    return None


@dataclass
class Extracted:
    root: Path
    members: list[tuple[str, Path, str, int]] = field(default_factory=list)  # name, path, sha256, size
    refused: list[tuple[str, str]] = field(default_factory=list)  # name, why
    media_skipped: int = 0


def _members(path: Path) -> Iterator[tuple[str, str, int, IO[bytes] | None]]:
    """(name, kind 'file'|'dir'|'link', declared size, stream) for each member."""
    if path.name.lower().endswith(".zip"):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"not a readable zip archive: {exc}", path=str(path)) from exc
        with zf:
            for info in zf.infolist():
                if info.is_dir():
                    yield info.filename, "dir", 0, None
                    continue
                mode = (info.external_attr >> 16) & 0o170000
                if mode == 0o120000:
                    yield info.filename, "link", 0, None
                    continue
                try:
                    with zf.open(info) as fh:
                        yield info.filename, "file", info.file_size, fh
                except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as exc:  # encrypted, unsupported
                    raise InputError(f"cannot read member {info.filename!r}: {exc}", path=str(path)) from exc
        return
    try:
        tf = tarfile.open(path, mode="r|*")
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"not a readable tar archive: {exc}", path=str(path)) from exc
    with tf:
        try:
            for m in tf:
                if m.isdir():
                    yield m.name, "dir", 0, None
                elif m.isfile():
                    yield m.name, "file", m.size, tf.extractfile(m)
                else:
                    yield m.name, "link", 0, None
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InputError(f"damaged or truncated tar archive: {exc}", path=str(path)) from exc


def extract(path: Path, dest: Path, *, max_bytes: int, max_members: int) -> Extracted:
    """Unpack ``path`` into the empty folder ``dest`` under the rules above."""
    dest.mkdir(parents=True, exist_ok=True)
    out = Extracted(root=dest)
    total = 0
    count = 0
    root = dest.resolve()
    try:
        for name, kind, declared, stream in _members(path):
            count += 1
            if count > max_members:
                raise InputError(f"archive has more than {max_members} members; refused", path=str(path))
            why = unsafe_name(name)
            if why is None and kind == "link":
                why = "link or special file"
            if why:
                out.refused.append((name, why))
                continue
            target = (dest / name.replace("\\", "/")).resolve()
            if root not in target.parents and target != root:
                out.refused.append((name, "resolves outside the extraction folder"))
                continue
            if kind == "dir":
                continue
            assert stream is not None
            if total + declared > max_bytes:
                raise InputError(f"archive expands past the limit of {max_bytes} bytes; refused", path=str(path))
            head = stream.read(64)
            if looks_like_media(name, head):
                out.media_skipped += 1
                continue  # never written
            target.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256(head)
            size = len(head)
            with open(target, "wb") as fh:
                fh.write(head)
                while chunk := stream.read(1024 * 1024):
                    size += len(chunk)
                    if total + size > max_bytes:
                        raise InputError(f"archive expands past the limit of {max_bytes} bytes; refused",
                                         path=str(path))
                    h.update(chunk)
                    fh.write(chunk)
            total += size
            out.members.append((name, target, h.hexdigest(), size))
    except InputError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise InputError(f"damaged archive: {exc}", path=str(path)) from exc
    return out
