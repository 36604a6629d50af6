"""CRC-32C (Castagnoli), the checksum of TFRecord files: `google-crc32c`'s C code
when it is installed (the ``waymo`` extra), else NumPy.

In NumPy: the CRC register update is linear over GF(2), which gives a fast
vectorised form: the message is cut into `R` equal chunks, every chunk's CRC is
advanced one 32-bit word at a time for all chunks at once (two 16-bit lookup tables
per word), and the `R` partial CRCs are merged pairwise, the left one shifted past
the right one by a "append L zero bytes" operator (zlib's ``crc32_combine`` idea).
Short inputs use the plain byte-wise table loop. Tables are built on first use.

Example:
    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    >>> crc32c(b"6789", crc32c(b"12345")) == crc32c(b"123456789")
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache, lru_cache

import numpy as np

_POLY = 0x82F63B78  # CRC-32C polynomial 0x1EDC6F41, bit-reflected
_MASK_DELTA = 0xA282EAD8  # TFRecord's checksum mask constant
_NUMPY_MIN_BYTES = 2048  # below this the byte loop is faster than NumPy's overhead
_MAX_CHUNKS = 1 << 15  # width of the vectorised loop (cache-resident uint32 arrays)
_MIN_WORDS_PER_CHUNK = 8
_U32 = 0xFFFFFFFF


def _load_extend() -> Callable[[int, bytes], int] | None:
    """`google_crc32c.extend` when its C extension is installed, else None."""
    try:
        with warnings.catch_warnings():
            # Without its C extension google-crc32c warns and falls back to pure
            # Python, which is slower than the NumPy code here: not used then.
            warnings.simplefilter("ignore", RuntimeWarning)
            import google_crc32c
    except ImportError:
        return None
    if getattr(google_crc32c, "implementation", None) != "c":
        return None
    return google_crc32c.extend


_EXTEND = _load_extend()


def crc32c(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """Return the CRC-32C of `data`, continuing from the checksum `value`.

    Same convention as `zlib.crc32`: ``crc32c(b, crc32c(a)) == crc32c(a + b)``.
    Computed by `google-crc32c` when it is installed, else in NumPy; both give
    the same checksums.

    Args:
        data: Bytes to checksum.
        value: CRC-32C of the preceding bytes (0 to start).

    Returns:
        The checksum as an unsigned 32-bit integer.
    """
    if _EXTEND is None:
        return _numpy_crc32c(data, value)
    if not isinstance(data, bytes):  # it takes read-only buffers only
        data = memoryview(data).cast("B").tobytes()
    return _EXTEND(value & _U32, data)


def _numpy_crc32c(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """`crc32c` without `google-crc32c`: a table loop, vectorised for long data."""
    view = memoryview(data).cast("B")
    register = (value & _U32) ^ _U32
    if len(view) < _NUMPY_MIN_BYTES:
        register = _bytewise(view, register)
    else:
        register = _vectorised(np.frombuffer(view, dtype=np.uint8), register)
    return register ^ _U32


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """Return TFRecord's masked CRC-32C: rotate right by 15 bits, add 0xa282ead8.

    Example:
        >>> hex(masked_crc32c(b""))
        '0xa282ead8'
    """
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & _U32


@cache
def _byte_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_POLY if crc & 1 else 0)
        table.append(crc)
    return tuple(table)


def _bytewise(view: memoryview, register: int) -> int:
    table = _byte_table()
    for byte in view:
        register = table[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


def _zero_byte(register: int) -> int:
    """Advance a raw CRC register by one zero byte (a linear map of the register)."""
    return _byte_table()[register & 0xFF] ^ (register >> 8)


def _apply(images: tuple[int, ...], vector: int) -> int:
    """Apply the GF(2)-linear map with basis images `images` to a 32-bit vector."""
    out = 0
    bit = 0
    while vector:
        if vector & 1:
            out ^= images[bit]
        vector >>= 1
        bit += 1
    return out


@lru_cache(maxsize=64)
def _shift_images(n_bytes: int) -> tuple[int, ...]:
    """Basis images of "append `n_bytes` zero bytes", by repeated squaring."""
    result = tuple(1 << i for i in range(32))  # identity
    power = tuple(_zero_byte(1 << i) for i in range(32))  # one zero byte
    while n_bytes:
        if n_bytes & 1:
            result = tuple(_apply(power, v) for v in result)
        power = tuple(_apply(power, v) for v in power)
        n_bytes >>= 1
    return result


def _span_table(images: tuple[int, ...], bits: int) -> np.ndarray:
    """Lookup table `(2**bits,)` of a linear map on `bits`-bit inputs."""
    table = np.zeros(1, dtype=np.uint32)
    for image in images[:bits]:
        table = np.concatenate([table, table ^ np.uint32(image)])
    return table


@cache
def _word_tables() -> tuple[np.ndarray, np.ndarray]:
    """Tables that advance a register by 4 bytes: low and high 16 bits of it."""
    images = _shift_images(4)
    return _span_table(images, 16), _span_table(images[16:], 16)


@lru_cache(maxsize=64)
def _byte_tables(n_bytes: int) -> tuple[np.ndarray, ...]:
    """Four byte-indexed tables of the "append `n_bytes` zero bytes" operator."""
    images = _shift_images(n_bytes)
    return tuple(_span_table(images[8 * k :], 8) for k in range(4))


def _layout(n_bytes: int) -> tuple[int, int]:
    """Chunk count (a power of two) and 32-bit words per chunk."""
    n_words = -(-n_bytes // 4)
    n_chunks = 1
    while n_chunks < _MAX_CHUNKS and n_chunks * 2 * _MIN_WORDS_PER_CHUNK <= n_words:
        n_chunks *= 2
    return n_chunks, -(-n_words // n_chunks)


def _vectorised(data: np.ndarray, register: int) -> int:
    n_chunks, n_cols = _layout(data.size)
    padded = np.zeros(n_chunks * n_cols * 4, dtype=np.uint8)
    # Leading zero bytes leave a zero register unchanged; a nonzero start register
    # is the same as XOR-ing it into the first four message bytes (little-endian).
    start = padded.size - data.size
    padded[start:] = data
    padded[start : start + 4] ^= np.frombuffer(register.to_bytes(4, "little"), np.uint8)
    words = padded.view("<u4").reshape(n_chunks, n_cols)
    columns = np.ascontiguousarray(words.T).astype(np.uint32, copy=False)
    low, high = _word_tables()
    crcs = np.zeros(n_chunks, dtype=np.uint32)
    scratch = np.empty_like(crcs)
    for column in columns:
        np.bitwise_xor(crcs, column, out=crcs)
        np.bitwise_and(crcs, 0xFFFF, out=scratch)
        np.right_shift(crcs, 16, out=crcs)
        np.take(high, crcs, out=crcs)
        np.bitwise_xor(crcs, np.take(low, scratch), out=crcs)
    return _merge(crcs, 4 * n_cols)


def _merge(crcs: np.ndarray, chunk_bytes: int) -> int:
    """Fold adjacent chunk CRCs pairwise: crc(a + b) = shift_len(b)(crc(a)) ^ crc(b)."""
    while crcs.size > 1:
        left, right = crcs[0::2], crcs[1::2].copy()
        for k, table in enumerate(_byte_tables(chunk_bytes)):
            right ^= table[(left >> np.uint32(8 * k)) & np.uint32(0xFF)]
        crcs = right
        chunk_bytes *= 2
    return int(crcs[0])
