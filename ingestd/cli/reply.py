"""`ingestd reply CASE_NO --file TEXT`: a formal written reply, by e-mail and/or as a PDF letter."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ingestd.cli.context import state

console = Console()


def reply(
    case_no: Annotated[str, typer.Argument(help="The case to answer.")],
    file: Annotated[Path, typer.Option("--file", "-f", help="The reply's body text (UTF-8); '-' for stdin.")],
    send_now: Annotated[bool, typer.Option("--send/--queue", help="Deliver the e-mail now, or leave it "
                                           "to the running daemon.")] = True,
    letter: Annotated[bool, typer.Option("--letter", help="Print a PDF letter too, even when the "
                                         "complainant has an e-mail address.")] = False,
) -> None:
    """Send the formal reply: an e-mail to the complainant (when they gave an address) and a PDF letter (when
    the complaint came by letter or left no address). Sending the same text again does nothing."""
    from jinja2 import TemplateError

    from outbound.replies import ReplyError

    text = sys.stdin.read() if str(file) == "-" else _read(file)
    application = state.app()
    try:
        assert application.outbound is not None
        try:
            result = application.outbound.reply(case_no, text, actor="cli", letter=letter)
        except ReplyError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        except TemplateError as exc:  # an admin-edited template the sandbox refused, or a broken one: say which
            typer.echo(template_refused(exc), err=True)
            raise typer.Exit(1) from None
        if result.already:
            console.print(f"{case_no}: this reply was sent before ({', '.join(result.channels)}); nothing new sent")
            return
        if "email" in result.channels and send_now:
            application.outbound.drain()
        parts = []
        if "email" in result.channels:
            parts.append(f"e-mail (outbox #{result.outbox_id})")
        if result.letter is not None:
            parts.append(f"letter {result.letter}")
        console.print(f"{case_no}: reply sent as " + " and ".join(parts), highlight=False)
    finally:
        application.close()


def template_refused(exc: Exception) -> str:
    """One line for the desk instead of a traceback; `check-config` points at the template's line."""
    return (f"a message template could not be rendered, nothing was sent: {type(exc).__name__}: {exc} "
            "(`ingestd check-config` shows the file and line)")


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc}") from None
