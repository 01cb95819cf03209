"""Arguments shared by the commands that read an image from a source (`sbom`, `scan`)."""

from __future__ import annotations

import argparse


def add_image_source_arguments(parser: argparse.ArgumentParser) -> None:
    """`--platform`, `--creds` and `--tls-verify`, as skopeo spells them."""
    parser.add_argument("--platform", default=None, help="os/arch[/variant] in an index")
    parser.add_argument("--creds", default=None, metavar="USER:PASS", help="registry credentials")
    parser.add_argument(
        "--tls-verify",
        choices=("true", "false"),
        nargs="?",
        const="true",
        default="true",
        help="check registry certificates (--tls-verify=false also allows plain HTTP)",
    )
