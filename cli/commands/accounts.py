"""Accounts from the command line: developers, their API keys, campaign members and
invitations, and the one-time tokens that link a Telegram or Discord account.

Each command runs one domain call in `cli.runtime.run_once` (audited as `cli`); a secret it
issues (an API key, an invitation or link token) is printed once, alone on the last line.
"""

from __future__ import annotations

import click

from cli.commands.config import load_settings
from cli.runtime import run_once
from domain import access, developers


@click.group(name="developers")
def developers_group() -> None:
    """Developer accounts (create, list)."""


@developers_group.command(name="create")
@click.option("--name", required=True, help="the developer's or studio's name")
@click.option("--email", required=True, help="contact e-mail (unique)")
def developers_create(name: str, email: str) -> None:
    """Create a developer and an API key; the key is printed once, alone on the last line."""
    settings = load_settings()

    async def main() -> developers.IssuedKey:
        dev = await developers.create_developer(name=name, email=email)
        return await developers.issue_key(developer_id=dev.id)

    issued = run_once(settings, lambda _: main())
    click.echo(
        f"developer {issued.developer_id} created ({email}); API key {issued.prefix}… (shown once):",
        err=True,
    )
    click.echo(issued.key)


@developers_group.command(name="list")
def developers_list() -> None:
    """List the developers with their active keys, campaigns and linked chats."""
    settings = load_settings()
    found = run_once(settings, lambda _: developers.list_developers())
    if not found:
        click.echo("no developers yet: codedrop developers create --name … --email …", err=True)
        return
    rows = [("id", "name", "e-mail", "created", "keys", "campaigns", "linked")]
    for d in found:
        v = d.developer
        rows.append(
            (
                str(v.id),
                v.name,
                v.email,
                f"{v.created_at:%Y-%m-%d}",
                str(d.active_keys),
                str(d.campaigns),
                ", ".join(d.linked) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        click.echo("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[6]]))


@click.group(name="keys")
def keys_group() -> None:
    """API keys (create, list, revoke)."""


@keys_group.command(name="create")
@click.option("--email", required=True, help="the developer's e-mail")
@click.option("--name", default="default", show_default=True, help="a label for the key")
def keys_create(email: str, name: str) -> None:
    """Issue another API key for a developer (printed once, alone on the last line)."""
    settings = load_settings()

    async def main() -> developers.IssuedKey:
        dev = await developers.find_developer(email=email)
        return await developers.issue_key(developer_id=dev.id, name=name)

    issued = run_once(settings, lambda _: main())
    click.echo(f"API key {issued.prefix}… (shown once):", err=True)
    click.echo(issued.key)


@keys_group.command(name="list")
@click.option("--email", required=True, help="the developer's e-mail")
def keys_list(email: str) -> None:
    """List a developer's keys (prefixes only)."""
    settings = load_settings()

    async def main() -> list[developers.KeyView]:
        dev = await developers.find_developer(email=email)
        return await developers.list_keys(developer_id=dev.id)

    for k in run_once(settings, lambda _: main()):
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        click.echo(f"{k.prefix}  {k.name:<20} created {k.created_at:%Y-%m-%d}  {state}")


@keys_group.command(name="revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke a key by its prefix (cdk_1a2b3c4d) or the full key."""
    settings = load_settings()
    view = run_once(settings, lambda _: developers.revoke_key(prefix=prefix))
    click.echo(f"revoked {view.prefix}")


@click.group(name="members")
def members_group() -> None:
    """Campaign members and invitations with a role (invite, accept, list)."""


@members_group.command(name="invite")
@click.option("--email", required=True, help="the e-mail of an owner of the campaign")
@click.option("--campaign", required=True, help="the campaign's id")
@click.option(
    "--role", type=click.Choice(["viewer", "manager", "owner"]), default="viewer", show_default=True
)
@click.option("--hours", type=int, default=access.DEFAULT_INVITE_HOURS, show_default=True)
def members_invite(email: str, campaign: str, role: str, hours: int) -> None:
    """A one-time invitation token for a role on a campaign (printed once, on the last line)."""
    settings = load_settings()

    async def main() -> access.IssuedInvite:
        dev = await developers.find_developer(email=email)
        return await access.invite(
            campaign_id=campaign, developer_id=dev.id, role=role, expires_in_hours=hours
        )

    issued = run_once(settings, lambda _: main())
    click.echo(
        f"invitation for a {issued.role}, until {issued.expires_at:%Y-%m-%d %H:%M} UTC:", err=True
    )
    click.echo(issued.token)


@members_group.command(name="accept")
@click.option("--email", required=True, help="the e-mail of the developer who joins")
@click.argument("token")
def members_accept(email: str, token: str) -> None:
    """Join a campaign with an invitation token (once, before it expires)."""
    settings = load_settings()

    async def main() -> access.Joined:
        dev = await developers.find_developer(email=email)
        return await access.accept(token=token, developer_id=dev.id)

    joined = run_once(settings, lambda _: main())
    click.echo(f"joined {joined.campaign_id} ({joined.campaign_name}) as {joined.role}")


@members_group.command(name="list")
@click.option("--email", required=True, help="the e-mail of a member of the campaign")
@click.option("--campaign", required=True, help="the campaign's id")
def members_list(email: str, campaign: str) -> None:
    """The campaign's owner and members with their roles."""
    settings = load_settings()

    async def main() -> list[access.MemberView]:
        dev = await developers.find_developer(email=email)
        return await access.list_members(campaign_id=campaign, developer_id=dev.id)

    for m in run_once(settings, lambda _: main()):
        click.echo(
            f"{m.developer_id:>8}  {m.role:<8} {m.name}{'  (campaign owner)' if m.is_owner else ''}"
        )


@click.command(name="link-token")
@click.option("--email", required=True, help="the developer's e-mail")
def link_token(email: str) -> None:
    """A one-time token to link a Telegram/Discord account (`/link <token>` to the bot)."""
    settings = load_settings()

    async def main() -> str:
        dev = await developers.find_developer(email=email)
        return await developers.issue_link_token(developer_id=dev.id)

    click.echo(run_once(settings, lambda _: main()))


COMMANDS = [developers_group, keys_group, members_group, link_token]
