"""What every page module receives: the services, the sign-in door and the renderer."""

from __future__ import annotations

from dockwatch.app import Services
from dockwatch.value_class import frozen

from ..auth_middleware import AuthMiddleware
from .render import Renderer
from .sessions import SessionStore


@frozen
class Console:
    """The console's shared parts. `door` is the registry's authentication middleware: its
    authenticator (None when auth is off), failure limiters and verification gate, so that
    the console checks the same users and passwords under the same throttling and lockout."""

    services: Services
    door: AuthMiddleware
    sessions: SessionStore
    renderer: Renderer
