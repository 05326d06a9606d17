"""The ablens web UI (``pip install 'ablens[web]'``, then ``ablens serve``).

`create_app` builds the FastAPI application; `serve` runs it with uvicorn on 127.0.0.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ablens._validation import optional_import

if TYPE_CHECKING:
    from ablens.web.app import create_app, serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - the module's public functions
    if name in __all__:
        for module in ("fastapi", "jinja2", "python_multipart", "uvicorn"):
            optional_import(module, "web")
        from ablens.web import app  # noqa: PLC0415 - needs the web extra

        return getattr(app, name)
    raise AttributeError(f"module 'ablens.web' has no attribute {name!r}")
