"""Reading the files that `validate`, `render` and `diff` are given, with bounded work.

Every command reads its input here, so all of them give the same verdict on the same
bytes: a file that is not UTF-8, is too large, holds an alias bomb or no document at all
is an error naming the file (and the byte or line), never a traceback. `-f DIR` reads the
directory's *.yaml, *.yml and *.json files in name order (`recursive` also its
subdirectories), as kubectl does, and `kind: List` wrappers (what `kubectl get -o yaml`
prints) are unpacked into their items.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml

# kubectl sends a file to the API server, which refuses a request body over 3 MiB; etcd
# keeps objects under 1.5 MiB. A file may hold many objects, so it gets more room.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DOCUMENT_BYTES = 3 * 1024 * 1024
# Nodes of one document after expanding its aliases. A PodPattern of 16 containers with
# long env lists has a few thousand; an alias bomb has billions in a few hundred bytes.
MAX_NODES = 100_000
EXTENSIONS = (".yaml", ".yml", ".json")
LIST_KINDS = frozenset({"List", "PodPatternList", "SidecarProfileList"})


class SourceError(ValueError):
    """A file (or standard input) that cannot be read as YAML; the message names it."""


@dataclass(frozen=True)
class Document:
    """One object of a file: its body, and how to name it in messages."""

    source: str
    label: str
    body: Any


def expand(sources: list[str], *, recursive: bool = False) -> list[str]:
    """Each source as given, directories replaced by their YAML and JSON files."""
    files: list[str] = []
    for source in sources:
        path = Path(source)
        if source != "-" and path.is_dir():
            found = _directory_files(path, recursive)
            if not found:
                raise SourceError(
                    f"{source}: the directory holds no {', '.join(EXTENSIONS)} files"
                    + ("" if recursive else " (use -R to read its subdirectories too)")
                )
            files.extend(str(item) for item in found)
        else:
            files.append(source)
    return files


def _directory_files(path: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(
        item for item in path.glob(pattern) if item.is_file() and item.suffix in EXTENSIONS
    )


def read(source: str) -> list[Document]:
    """The objects of one file (`-` is standard input), List items unpacked.

    Raises SourceError for unreadable bytes, bad YAML, an input over the size bounds, an
    alias bomb, and a file without any document.
    """
    data = _read_bytes(source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{source}: not UTF-8 text: the byte 0x{data[error.start]:02x} at offset "
            f"{error.start} cannot be decoded; save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        bodies = [body for body in _load_all(source, text) if body is not None]
    except _TooLarge as error:
        raise SourceError(f"{source}: {error}") from None
    except yaml.YAMLError as error:
        raise SourceError(f"{source}: not valid YAML, fix it where shown: {error}") from None
    except RecursionError:
        raise SourceError(
            f"{source}: the YAML is nested too deeply to be an object: flatten it"
        ) from None
    if not bodies:
        raise SourceError(
            f"{source}: no documents: the input is empty; give a file with a PodPattern or "
            "SidecarProfile"
        )
    documents: list[Document] = []
    for index, body in enumerate(bodies):
        label = source if len(bodies) == 1 else f"{source} (document {index + 1})"
        documents.extend(_unpack(source, label, body))
    return documents


def _read_bytes(source: str) -> bytes:
    try:
        if source == "-":
            return _bounded(source, sys.stdin.buffer)
        with open(source, "rb") as stream:
            return _bounded(source, stream)
    except IsADirectoryError:
        raise SourceError(f"{source}: is a directory; give it with -f to read its files") from None
    except OSError as error:
        raise SourceError(f"{source}: cannot read: {error.strerror or error}") from None


def _bounded(source: str, stream: BinaryIO) -> bytes:
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(
            f"{source}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: split it into "
            "several files"
        )
    return data


def _unpack(source: str, label: str, body: Any) -> Iterator[Document]:
    if not (isinstance(body, dict) and body.get("kind") in LIST_KINDS and "items" in body):
        yield Document(source, label, body)
        return
    items = body.get("items") or []
    if not isinstance(items, list):
        yield Document(source, f"{label}: items", body)  # reported as an unknown kind
        return
    for index, item in enumerate(items):
        yield Document(source, f"{label} items[{index}]", item)


def _load_all(source: str, text: str) -> Iterator[Any]:
    loader = _BoundedLoader(text)
    loader.name = source  # PyYAML's messages say where: "in FILE, line 3, column 1"
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]
            yield loader.get_data()
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


class _TooLarge(yaml.YAMLError):
    """A document over the bounds, however valid its YAML."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses a document too large once its aliases are expanded.

    PyYAML shares the object an alias points to, so loading a bomb is cheap; what is not
    is every step after it (copying, validating, printing), which sees the expansion.
    """

    def compose_document(self) -> yaml.Node | None:
        node: yaml.Node | None = super().compose_document()  # type: ignore[misc]
        if node is not None:
            _check_size(node)
        return node


def _check_size(root: yaml.Node) -> None:
    # (values, bytes of text) of each node with its aliases expanded, memoized per node,
    # so that a bomb costs one visit per distinct node.
    sizes: dict[int, tuple[int, int]] = {}
    # Iterative post-order walk: a deep document must not exhaust Python's stack here.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            path.discard(key)
            children = [sizes[id(child)] for child in _children(node)]
            _admit(sizes, key, 1 + sum(c[0] for c in children), sum(c[1] for c in children))
        elif key in sizes:
            continue
        elif key in path:
            raise _TooLarge("an alias refers to a value that contains it: remove the cycle")
        elif isinstance(node, yaml.ScalarNode):
            _admit(sizes, key, 1, len(node.value))
        else:
            path.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))


def _admit(sizes: dict[int, tuple[int, int]], key: int, values: int, size: int) -> None:
    if values > MAX_NODES:
        raise _TooLarge(
            f"the document has more than {MAX_NODES} values once its aliases (*name) are "
            "expanded: write the values out, or split the document"
        )
    if size > MAX_DOCUMENT_BYTES:
        raise _TooLarge(
            f"the document holds more than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB of text "
            "(aliases expanded), more than the API server accepts in one request: make it "
            "smaller"
        )
    sizes[key] = (values, size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
