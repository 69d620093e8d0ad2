"""A NotebookClient that cannot miss a kernel message (used by the tests and tools/render_solutions.py).

nbclient waits for a cell's reply with one long ``get_msg(timeout=...)`` on the shell channel.
With cells that open many widget comms (lesson 05's before/after toggles at the CPU defaults),
that wait can miss a reply that has already arrived and sleep until the cell's whole timeout:
the kernel sits idle and the run hangs (jupyter/nbclient#312, still open). Asking again every
half second instead finds the message on the next poll. Nothing else changes.
"""

from __future__ import annotations

import queue
import time

from nbclient import NotebookClient
from nbclient.util import ensure_async

POLL_SECONDS = 0.5


def polling(get_msg, interval: float = POLL_SECONDS):
    """``get_msg`` with the same timeout, waited for in short polls."""

    async def get_msg_polling(timeout=None, **kwargs):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic()))
            try:
                return await ensure_async(get_msg(timeout=left, **kwargs))
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get_msg_polling


class PatientNotebookClient(NotebookClient):
    """nbclient's NotebookClient whose shell and IOPub waits poll (see the module's docstring)."""

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        for channel in (client.shell_channel, client.iopub_channel):
            channel.get_msg = polling(channel.get_msg)
        return client
