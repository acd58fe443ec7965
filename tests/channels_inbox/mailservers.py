"""Real mail servers for the inbox's transport tests: Dovecot (IMAP) and aiosmtpd (SMTP).

Both listen on 127.0.0.1 on a free port and live in a private temporary directory, so tests
never touch the machine's own mail set-up. Dovecot runs in the foreground (`dovecot -F -c
<conf>`, no systemd), with a passwd-file of users and maildirs owned by the `mail` system user
(Dovecot refuses to serve mail as root). Import the fixtures from a test module:

    from tests.channels_inbox.mailservers import dovecot, imap_mailbox, smtp_server  # noqa: F401
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
MAIL_USER = "mail"  # Debian's system user for mail spools; Dovecot will not run mail as uid 0.


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
first_valid_gid = {gid}
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
"""


# Users are written before Dovecot starts: it re-reads the passwd-file only when its mtime
# changes, and two additions within one second would leave the second user unknown.
USER_POOL = 500


@dataclass
class Dovecot:
    """A running Dovecot; `add_user()` hands out the next unused mailbox user."""

    root: Path
    port: int
    process: subprocess.Popen
    users: list[tuple[str, str]]
    host: str = "127.0.0.1"

    def add_user(self) -> tuple[str, str]:
        return self.users.pop()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


try:  # Linux: let the kernel stop Dovecot if the test process dies without its teardown.
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the forked child before exec: nothing here imports or allocates much, because
    another thread of the parent may hold a lock the child inherits."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_dovecot() -> Dovecot:
    if not os.path.exists(DOVECOT):
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    uid = pwd.getpwnam(MAIL_USER).pw_uid
    gid = grp.getgrnam(MAIL_USER).gr_gid
    # Not pytest's tmp_path: that one is private to root (0700) and the mail user must reach in.
    root = Path(tempfile.mkdtemp(prefix="cc-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    for sub in ("mail", "home"):
        os.chown(root / sub, uid, gid)
    users = [(f"user{n:04d}", secrets.token_hex(8)) for n in range(USER_POOL)]
    (root / "passwd").write_text(
        "".join(f"{name}:{{PLAIN}}{password}::::::\n" for name, password in users)
    )
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(root=root, port=port, uid=uid, gid=gid))
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=(root / "stderr.log").open("wb"),
        preexec_fn=_die_with_parent,
    )
    server = Dovecot(root=root, port=port, process=process, users=users)
    try:
        _wait_for_port(port)
    except RuntimeError:
        process.kill()
        raise RuntimeError(
            "Dovecot did not start:\n"
            + (root / "stderr.log").read_text(errors="replace")
            + server.log()
        ) from None
    return server


def stop_dovecot(server: Dovecot) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot():
    """One Dovecot for the test session; each test takes its own user (`imap_mailbox`)."""
    server = start_dovecot()
    yield server
    stop_dovecot(server)


@dataclass
class ImapMailbox:
    """A fresh user on the shared Dovecot: where a channel polls and a test APPENDs."""

    server: Dovecot
    username: str
    password: str
    folder: str = "INBOX"

    def client(self):
        from imapclient import IMAPClient

        client = IMAPClient(self.server.host, port=self.server.port, ssl=False, timeout=10)
        client.login(self.username, self.password)
        return client

    def append(self, *raws: bytes, folder: str | None = None) -> None:
        """Deliver messages into the mailbox the way an MTA would (IMAP APPEND)."""
        with contextlib.closing(_Logout(self.client())) as holder:
            for raw in raws:
                holder.client.append(folder or self.folder, raw)

    def channel_fields(self) -> dict:
        """The Channel fields that point a channel at this mailbox."""
        return {
            "imap_host": self.server.host,
            "imap_port": self.server.port,
            "imap_ssl": False,
            "imap_username": self.username,
            "imap_password": self.password,
            "imap_folder": self.folder,
        }

    def recreate_folder(self) -> None:
        """Delete and recreate a non-INBOX folder: the server hands out a new UIDVALIDITY."""
        with contextlib.closing(_Logout(self.client())) as holder:
            holder.client.delete_folder(self.folder)
            holder.client.create_folder(self.folder)


class _Logout:
    def __init__(self, client) -> None:
        self.client = client

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.logout()


@pytest.fixture
def imap_mailbox(dovecot) -> ImapMailbox:
    username, password = dovecot.add_user()
    return ImapMailbox(server=dovecot, username=username, password=password)


# --- SMTP ---


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        from email import policy

        return message_from_bytes(self.raw, policy=policy.default)


@dataclass
class SmtpServer:
    """A real SMTP server (aiosmtpd) that keeps what it receives in `messages`.

    `refuse_with` makes it answer DATA with that reply (e.g. "451 4.3.0 try later" or
    "550 5.1.1 no such user") instead of accepting, to test transient and permanent failures.
    """

    host: str
    port: int
    messages: list[ReceivedMail] = field(default_factory=list)
    refuse_with: str = ""
    username: str = ""
    password: str = ""

    def channel_fields(self) -> dict:
        return {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_security": "none",
            "smtp_username": self.username,
            "smtp_password": self.password,
        }


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        if self.server.refuse_with:
            return self.server.refuse_with
        self.server.messages.append(
            ReceivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                raw=envelope.original_content or envelope.content,
            )
        )
        return "250 2.0.0 OK queued"


def _run_smtp(server: SmtpServer, **options):
    from aiosmtpd.controller import Controller

    controller = Controller(_Handler(server), hostname=server.host, port=server.port, **options)
    controller.start()
    return controller


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 for one test (no TLS, no login)."""
    server = SmtpServer(host="127.0.0.1", port=free_port())
    controller = _run_smtp(server)
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp_server_with_login():
    """Like `smtp_server`, but mail is only accepted after AUTH with its username/password."""
    from aiosmtpd.smtp import AuthResult

    server = SmtpServer(
        host="127.0.0.1", port=free_port(), username="kundeservice", password="hemmeligt-42"
    )

    def authenticator(smtp, session, envelope, mechanism, auth_data):
        ok = (
            auth_data.login.decode() == server.username
            and auth_data.password.decode() == server.password
        )
        return AuthResult(success=ok, handled=False)

    # PLAIN only: smtplib's AUTH LOGIN with an initial response stalls aiosmtpd.
    controller = _run_smtp(
        server,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
    )
    try:
        yield server
    finally:
        controller.stop()


# --- Conversations to answer, and mail to deliver ---


def conversation_with_inbound(
    channel,
    *,
    customer: str = "kunde@example.dk",
    subject: str = "Min regning er for høj",
    message_id: str = "<CAF1234.abc@mail.example.dk>",
    references: list[str] | None = None,
    flags: list[str] | None = None,
    headers: dict | None = None,
    ticket: bool = True,
    thread_key: str = "",
):
    """A conversation on `channel` holding one inbound message from `customer`, with a ticket.

    Built directly (not through `message_receive`) so reply tests depend on nothing but the
    models; the ingest has its own tests.
    """
    from channels_inbox.models import Conversation, Message, MessageDirection, MessageStatus
    from crm.models import ContactIdentity, IdentityKind
    from tests.crm.factories import ContactFactory, TicketFactory

    contact = ContactFactory(tenant=channel.tenant, first_name="Søren", last_name="Ærø")
    if "@" in customer:
        ContactIdentity.objects.create(
            tenant=channel.tenant, contact=contact, kind=IdentityKind.EMAIL, value=customer
        )
    ticket_row = (
        TicketFactory(tenant=channel.tenant, contact=contact, subject=subject) if ticket else None
    )
    conversation = Conversation.objects.create(
        tenant=channel.tenant,
        channel=channel,
        contact=contact,
        ticket=ticket_row,
        queue=channel.queue,
        subject=subject,
        thread_key=thread_key,
        message_count=1,
    )
    Message.objects.create(
        tenant=channel.tenant,
        conversation=conversation,
        channel=channel,
        direction=MessageDirection.INBOUND,
        kind=channel.kind,
        status=MessageStatus.RECEIVED,
        external_id=message_id or f"ext-{secrets.token_hex(6)}",
        from_address=customer,
        from_name="Søren Ærø",
        to_addresses=[channel.address],
        subject=subject,
        text="Hej, min regning er for høj. Kan I se på den?",
        message_id=message_id if "@" in customer else "",
        references=references or [],
        headers=headers or {},
        flags=flags or [],
    )
    return conversation


def mime(
    *,
    subject: str = "Hello",
    sender: str = "kunde@example.dk",
    to: str = "kundeservice@nordlys.example",
    body: str = "Hej",
    charset: str = "utf-8",
    message_id: str | None = None,
    extra_headers: dict | None = None,
) -> bytes:
    """A plain-text RFC 5322 message in `charset` (subject RFC 2047-encoded), as bytes."""
    from email.header import Header
    from email.mime.text import MIMEText
    from email.utils import formataddr, formatdate, parseaddr

    message = MIMEText(body, "plain", charset)
    message["Subject"] = Header(subject, charset)
    # Only the display name is encoded (RFC 2047), as mail programs do; never the address.
    message["From"] = formataddr(parseaddr(sender), charset="utf-8")
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or f"<{secrets.token_hex(8)}@example.dk>"
    for name, value in (extra_headers or {}).items():
        message[name] = value
    return message.as_bytes().replace(b"\n", b"\r\n")
