"""Python client for livescan's Sessions API.

- :class:`Client`: gRPC (start, watch with transparent resume, reports (each
  tool report once), get, cancel, tools, account); messages are the generated
  ``livescan.v1`` types.
- :class:`RestClient` / :class:`Poller`: REST with the standard library; the
  Sessions API reference's three polling modes with the safe cursor.
- :class:`LivescanError`: every refusal, with HTTP/gRPC status, ``code``,
  ``message`` and ``details``.
"""

from livescan.v1 import session_service_pb2 as pb

from .errors import (
    InsufficientCredits,
    InvalidArgument,
    LivescanError,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from .grpc_client import Client, Started, is_terminal
from .rest import Poller, RestClient

__all__ = [
    "Client",
    "InsufficientCredits",
    "InvalidArgument",
    "LivescanError",
    "NotFound",
    "Poller",
    "RateLimited",
    "RestClient",
    "Started",
    "Unauthenticated",
    "is_terminal",
    "pb",
]
