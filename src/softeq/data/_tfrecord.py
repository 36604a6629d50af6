"""TFRecord files and tf.Example records, without TensorFlow.

A TFRecord file is a sequence of records, each framed as::

    uint64 length (little-endian) | uint32 masked_crc32c(length bytes)
    | data (length bytes) | uint32 masked_crc32c(data)

A tf.Example is a protobuf message (``tensorflow/core/example/example.proto``): a map
from feature name to a list of bytes, float32 or int64 values. Its message classes
are built here from a descriptor written in code and live in a private descriptor
pool, so they never clash with a real TensorFlow in the same process. `protobuf` is
imported on first use only (the optional extra ``softeq[waymo]``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Collection, Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ._crc32c import masked_crc32c

_HEADER = struct.Struct("<QI")  # length, masked CRC of the 8 length bytes
_FOOTER = struct.Struct("<I")  # masked CRC of the data
_OVERHEAD = _HEADER.size + _FOOTER.size


class TFRecordError(ValueError):
    """A TFRecord file is truncated or fails a checksum."""


def read_records(
    path: str | os.PathLike[str], *, check_crc: bool = True
) -> Iterator[bytes]:
    """Yield the data of every record in a TFRecord file, in order.

    Args:
        path: The file (uncompressed; gzip-compressed TFRecords are not supported).
        check_crc: Verify both CRC-32C checksums of every record.

    Yields:
        The bytes of each record.

    Raises:
        TFRecordError: The file ends inside a record (header, data or footer) or a
            checksum does not match; the message names the file, the record index
            and its byte offset. No record is ever skipped silently.
    """
    for _, _, data in scan_records(path, check_crc=check_crc):
        yield data


def scan_records(
    path: str | os.PathLike[str], *, check_crc: bool = True
) -> Iterator[tuple[int, int, bytes]]:
    """Like `read_records`, yielding ``(index, byte offset, data)`` per record."""
    path = Path(path)
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        index = offset = 0
        while True:
            header = fh.read(_HEADER.size)
            if not header:
                return
            where = f"{path}: record {index} at byte offset {offset}"
            length = _read_length(header, where, check_crc=check_crc)
            available = size - offset - _HEADER.size
            if length + _FOOTER.size > available:
                raise TFRecordError(f"{where}: {_truncation(length, available)}")
            data = fh.read(length)
            footer = fh.read(_FOOTER.size)
            if len(data) != length or len(footer) != _FOOTER.size:
                raise TFRecordError(f"{where}: the file shrank while it was read")
            if check_crc:
                _check(masked_crc32c(data), _FOOTER.unpack(footer)[0], "data", where)
            yield index, offset, data
            index += 1
            offset += length + _OVERHEAD


def _truncation(length: int, available: int) -> str:
    if available < length:
        return (
            f"truncated file: it ends inside the data ({available} of {length} bytes)"
        )
    got = available - length
    return f"truncated file: it ends inside the footer ({got} of {_FOOTER.size} bytes)"


def _read_length(header: bytes, where: str, *, check_crc: bool) -> int:
    if len(header) < _HEADER.size:
        raise TFRecordError(
            f"{where}: truncated file: it ends inside the header ({len(header)} "
            f"of {_HEADER.size} bytes)"
        )
    length, stored = _HEADER.unpack(header)
    if check_crc:
        _check(masked_crc32c(header[:8]), stored, "length", where)
    return length


def _check(computed: int, stored: int, part: str, where: str) -> None:
    if computed != stored:
        raise TFRecordError(
            f"{where}: {part} checksum mismatch (stored {stored:#010x}, computed "
            f"{computed:#010x}): the file is corrupt"
        )


def write_records(
    path: str | os.PathLike[str], records: Iterable[bytes | bytearray | memoryview]
) -> int:
    """Write records to a new TFRecord file (overwriting `path`).

    Args:
        path: The file to write.
        records: The data of each record.

    Returns:
        The number of records written.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "demo.tfrecord"
        >>> write_records(path, [b"first", b"", b"third"])
        3
        >>> list(read_records(path))
        [b'first', b'', b'third']
    """
    count = 0
    with Path(path).open("wb") as fh:
        for record in records:
            data = memoryview(record).cast("B")
            length = struct.pack("<Q", len(data))
            fh.write(length + _FOOTER.pack(masked_crc32c(length)))
            fh.write(data)
            fh.write(_FOOTER.pack(masked_crc32c(data)))
            count += 1
    return count


# --- tf.Example ----------------------------------------------------------------------


@cache
def _example_type() -> Any:
    """The tf.Example message class, built once from a descriptor written in code."""
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError as err:
        raise ImportError(
            "reading tf.Example records needs the protobuf package: "
            "pip install 'softeq[waymo]'"
        ) from err
    proto = descriptor_pb2.FileDescriptorProto(
        name="softeq/tf_example.proto", package="tensorflow", syntax="proto3"
    )
    for kind in ("Bytes", "Float", "Int64"):
        message = proto.message_type.add(name=f"{kind}List")
        _add_field(message, "value", 1, kind.upper(), repeated=True)
    feature = proto.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for number, kind in enumerate(("Bytes", "Float", "Int64"), 1):
        _add_field(feature, f"{kind.lower()}_list", number, f".tensorflow.{kind}List")
        feature.field[-1].oneof_index = 0
    features = proto.message_type.add(name="Features")
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    _add_field(entry, "key", 1, "STRING")
    _add_field(entry, "value", 2, ".tensorflow.Feature")
    _add_field(
        features, "feature", 1, ".tensorflow.Features.FeatureEntry", repeated=True
    )
    example = proto.message_type.add(name="Example")
    _add_field(example, "features", 1, ".tensorflow.Features")
    pool = descriptor_pool.DescriptorPool()  # private: no clash with TensorFlow's
    pool.Add(proto)
    descriptor = pool.FindMessageTypeByName("tensorflow.Example")
    return message_factory.GetMessageClass(descriptor)


def _add_field(
    message: Any, name: str, number: int, kind: str, *, repeated: bool = False
) -> None:
    """Add a field of scalar type ``kind`` (e.g. "FLOAT") or message type ``.a.B``."""
    from google.protobuf.descriptor_pb2 import FieldDescriptorProto as Field

    field = message.field.add(name=name, number=number)
    field.label = Field.LABEL_REPEATED if repeated else Field.LABEL_OPTIONAL
    if kind.startswith("."):
        field.type, field.type_name = Field.TYPE_MESSAGE, kind
    else:
        field.type = Field.Type.Value(f"TYPE_{kind}")


def parse_example(
    record: bytes | bytearray | memoryview, *, keys: Collection[str] | None = None
) -> dict[str, np.ndarray]:
    """Decode a serialized tf.Example into flat NumPy arrays.

    Args:
        record: The serialized message (one TFRecord record).
        keys: Feature names to decode (all when None).

    Returns:
        Feature name → 1-D array: float32 for a float list, int64 for an int64 list,
        object (Python bytes) for a bytes list, empty float32 when no list is set.

    Raises:
        ValueError: `record` is not a valid tf.Example, or a key in `keys` is missing.
        ImportError: protobuf is not installed.

    Example:
        >>> record = make_example({"x": np.arange(3.0), "n": np.array([[1, 2]])})
        >>> parse_example(record)
        {'n': array([1, 2]), 'x': array([0., 1., 2.], dtype=float32)}
    """
    example_type = _example_type()
    from google.protobuf.message import DecodeError

    try:
        example = example_type.FromString(bytes(record))
    except DecodeError as err:
        raise ValueError(
            f"not a tf.Example: protobuf could not decode {len(record)} bytes ({err})"
        ) from err
    feature_map = example.features.feature
    names = sorted(feature_map) if keys is None else list(keys)
    missing = [name for name in names if name not in feature_map]
    if missing:
        have = ", ".join(sorted(feature_map)[:8]) or "none"
        raise ValueError(
            f"tf.Example has no feature {missing[0]!r} ({len(missing)} of the "
            f"{len(names)} requested are missing; it has {len(feature_map)}: {have}, …)"
        )
    return {name: _to_array(feature_map[name]) for name in names}


def _to_array(feature: Any) -> np.ndarray:
    kind = feature.WhichOneof("kind")
    if kind == "float_list":
        return np.array(feature.float_list.value, dtype=np.float32)
    if kind == "int64_list":
        return np.array(feature.int64_list.value, dtype=np.int64)
    if kind == "bytes_list":
        out = np.empty(len(feature.bytes_list.value), dtype=object)
        out[:] = list(feature.bytes_list.value)
        return out
    return np.empty(0, dtype=np.float32)


def make_example(features: Mapping[str, Any]) -> bytes:
    """Serialize arrays as a tf.Example (inverse of `parse_example`, up to dtype).

    Args:
        features: Feature name → array-like, flattened row-major. Floats are stored
            as float32, integers and booleans as int64, bytes and str (UTF-8) as
            bytes.

    Returns:
        The serialized message, deterministic for equal inputs.

    Raises:
        TypeError: A name is not a str or an array has an unsupported dtype.
    """
    example = _example_type()()
    for name, values in features.items():
        if not isinstance(name, str):
            raise TypeError(f"make_example: feature names must be str, got {name!r}")
        array = np.asarray(values).ravel()
        feature = example.features.feature[name]
        if array.dtype.kind == "f":
            feature.float_list.SetInParent()
            feature.float_list.value.extend(array.astype(np.float32).tolist())
        elif array.dtype.kind in "iub":
            feature.int64_list.SetInParent()
            feature.int64_list.value.extend(array.astype(np.int64).tolist())
        elif array.dtype.kind in "SUO":
            feature.bytes_list.SetInParent()
            feature.bytes_list.value.extend(_as_bytes(v, name) for v in array.tolist())
        else:
            raise TypeError(
                f"make_example: feature {name!r} has dtype {array.dtype}; expected "
                "float, integer, bool, bytes or str values"
            )
    return example.SerializeToString(deterministic=True)


def _as_bytes(value: object, name: str) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    raise TypeError(
        f"make_example: feature {name!r} holds a {type(value).__name__}; a bytes list "
        "takes bytes or str values"
    )
