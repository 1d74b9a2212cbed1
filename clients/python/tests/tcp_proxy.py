"""A loopback TCP proxy whose connections a test can cut, to break gRPC streams."""

from __future__ import annotations

import socket
import struct
import threading


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream address, byte for byte.

    ``cut()`` resets every open connection; while ``refusing`` is set, new
    connections are closed as soon as they are accepted (a server that is
    down), until ``accept_again()``.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        self.refusing = threading.Event()
        self.accepted = 0  # connections forwarded
        self.refused = 0  # connections closed while refusing
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy-accept", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            if self.refusing.is_set():
                self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._closed:
                    _reset(client)
                    _reset(upstream)
                    return
                self._open.update((client, upstream))
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with self._lock:
                    self._open.discard(sock)
                _reset(sock)

    def cut(self) -> int:
        """Resets every open connection; returns how many sockets were cut."""
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            _reset(sock)
        return len(sockets)

    def refuse(self) -> None:
        self.refusing.set()

    def accept_again(self) -> None:
        self.refusing.clear()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        self.cut()


def _reset(sock: socket.socket) -> None:
    """Closes with RST (linger 0), as a dropped connection looks to the peer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
