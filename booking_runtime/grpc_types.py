"""The type every servicer method's `context` has: one alias for the four servicers.

grpc.aio.ServicerContext is generic over the request and reply types; a servicer's methods each
take a different pair, and nothing they do with the context depends on it.
"""

from __future__ import annotations

from typing import Any

import grpc

Context = grpc.aio.ServicerContext[Any, Any]
