"""A TCP relay between a browser and the app whose connections can be cut, as a network that drops does: the
browser's websocket closes and every reconnection is refused until the network is back. Chromium's own
offline mode leaves open websockets alone, so it cannot stand in for a real cut."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class CuttableRelay:
    """Listens on a free localhost port and relays each connection to `target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connected = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until `restore`."""
        with self._lock:
            self.connected = False
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._open.clear()

    def restore(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.connected:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._open.discard(sock)


@contextlib.contextmanager
def cuttable(url: str) -> Iterator[tuple[str, CuttableRelay]]:
    """The app at `url` (http://localhost:PORT) behind a relay; yields the relay's URL and the relay."""
    relay = CuttableRelay(int(url.rsplit(":", 1)[1]))
    try:
        yield f"http://127.0.0.1:{relay.port}", relay
    finally:
        relay.close()
