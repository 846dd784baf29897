"""Hand batches from the scanning process to its worker processes through shared memory, not a pipe.

A batch of 32,768 rows is about 8 MB of Arrow buffers. Sent through the executor's pipe it is pickled (a copy),
written and read in 64 KB pieces and unpickled (another copy): about a tenth of a scan's CPU time. Instead the
scanning process maps one anonymous shared region before it forks the workers (so every worker inherits the
same memory, and nothing is ever written to a file: no raw data can be left behind in /dev/shm by a killed
scan), copies each batch's buffers into a free slot (pickle protocol 5 hands them over out of band), and sends
only the pickle's small header. The worker rebuilds the batch on top of the slot without copying.

A slot is reused only after the scanning process has the result of the batch it held. A batch larger than a
slot, or a platform without ``fork`` (the workers would not share the region), goes through the pipe as before.
"""

from __future__ import annotations

import mmap
import pickle
from collections import deque
from dataclasses import dataclass

#: Bytes per slot. A batch holds 32,768 rows; wider or fatter ones (a 10 MB cell) take the pipe instead.
SLOT_BYTES = 64 << 20
#: Buffers start at multiples of this (Arrow's own alignment), so the rebuilt arrays are as good as read ones.
ALIGN = 64


@dataclass(frozen=True)
class Parcel:
    """What travels through the pipe: a pickle, and where its out-of-band buffers lie in ``slot`` (None: the
    pickle holds everything)."""

    pickled: bytes
    slot: int | None = None
    spans: tuple[tuple[int, int], ...] = ()


class Handoff:
    """Slots of shared memory for batches in flight. Create it before the workers fork; ``pack`` in the scanning
    process, ``unpack`` in a worker, ``release`` once the batch's result is back."""

    def __init__(self, slots: int, slot_bytes: int = SLOT_BYTES) -> None:
        self.slot_bytes = slot_bytes
        # MAP_SHARED | MAP_ANONYMOUS: pages exist only once touched, and forked children see the same ones
        self._memory = mmap.mmap(-1, slots * slot_bytes) if slots else None
        self._free: deque[int] = deque(range(slots))

    def pack(self, obj: object) -> Parcel:
        """``obj`` ready to send: its buffers copied into a free slot when they fit, else pickled whole."""
        if self._memory is not None and self._free:  # else the pipe: no out-of-band pickle to throw away
            buffers: list[pickle.PickleBuffer] = []
            header = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
            raws = [b.raw() for b in buffers]
            spans, offset = [], 0
            for raw in raws:
                spans.append((offset, raw.nbytes))
                offset += -(-raw.nbytes // ALIGN) * ALIGN
            if offset <= self.slot_bytes:
                slot = self._free.popleft()
                base = slot * self.slot_bytes
                for raw, (start, size) in zip(raws, spans, strict=True):
                    self._memory[base + start : base + start + size] = raw
                return Parcel(header, slot, tuple(spans))
        return Parcel(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def unpack(self, parcel: Parcel) -> object:
        """The object of ``parcel``, its buffers (if any) views of the shared slot: valid until it is released."""
        if parcel.slot is None:
            return pickle.loads(parcel.pickled)
        assert self._memory is not None, "a parcel in shared memory reached a process without the region"
        view = memoryview(self._memory)
        base = parcel.slot * self.slot_bytes
        return pickle.loads(parcel.pickled, buffers=[view[base + a : base + a + n] for a, n in parcel.spans])

    def release(self, parcel: Parcel) -> None:
        """Give ``parcel``'s slot back, once its worker is done with the batch (its result has arrived)."""
        if parcel.slot is not None:
            self._free.append(parcel.slot)
