"""aero-mcp: an MCP server that gives AI agents ears.

It exposes aero-agent's :class:`~aero_agent.SessionStore` over the Model Context Protocol: open a long
recording once, then transcribe, ask, search and extract over many turns. Every operation is implemented
in ``aero_agent``; this package only maps it onto MCP tools, resources and prompts.
"""

from aero_mcp.config import ServerConfig
from aero_mcp.server import create_server

__version__ = "0.1.0"

__all__ = ["ServerConfig", "__version__", "create_server"]
