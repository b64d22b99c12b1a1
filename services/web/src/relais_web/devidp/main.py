"""``relais-dev-idp``: run the dev OpenID provider (refuses outside RELAIS_ENV=dev/test)."""

from __future__ import annotations

import argparse
import sys

import uvicorn
from pydantic import ValidationError

from relais_web.devidp.app import DevIdpSettings, create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fournisseur d'identité de développement (utilisateurs de démonstration)."
    )
    parser.add_argument("--port", type=int, default=None, help="port (default: 8010)")
    args = parser.parse_args(argv)
    try:
        settings = DevIdpSettings()
    except ValidationError as exc:
        print(f"relais-dev-idp : {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    port = args.port or settings.http_port
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
