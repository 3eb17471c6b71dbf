"""SMTP delivery that tells apart the three outcomes that matter for "exactly once":
not delivered (safe to retry), refused (the server's code says whether to retry), and uncertain
(the connection broke after the message was handed over: never resent automatically)."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.header import Header
from email.headerregistry import Address, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate

from ces.config.models import SmtpSettings
from ces.worker import smtp_pool
from ces.worker.db.types import storable_text
from ces.worker.health.counters import smtp_watched
from ces.worker.retry import Permanent, Transient

_CONTROLS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_ADDRESS = re.compile(r"<?[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+>?")
MAX_ADDRESS = 254  # RFC 5321's path limit, less its angle brackets


class NotOneMailbox(Permanent):
    """The customer's address is not exactly one mailbox (a list, a name and address, garbage)."""

    def __init__(self):
        super().__init__("the requester's e-mail address is not exactly one valid mailbox")


def header_text(value: str | None) -> str:
    """Text a mail header can carry on one line: line breaks and other control characters become a
    space, lone surrogates are replaced; the email package encodes the rest (RFC 2047)."""
    return _CONTROLS.sub(" ", storable_text(value or "")).strip()


def mailbox(name: str | None, address: str) -> Address:
    """The customer as one mailbox: the name cleaned (and quoted or encoded by the email package,
    so that `a@x, b@y` in a name stays a name), the address exactly one addr-spec or NotOneMailbox."""
    address = address.strip()
    if not address or len(address) > MAX_ADDRESS or _CONTROLS.search(address):
        raise NotOneMailbox()
    try:
        parsed = Address(addr_spec=address)
    except Exception:  # ValueError, HeaderParseError, an index error on some garbage: all "not one"
        raise NotOneMailbox() from None
    if not parsed.username or not parsed.domain:
        raise NotOneMailbox()
    return Address(display_name=header_text(name), username=parsed.username, domain=parsed.domain)


class MailPolicy(EmailPolicy):
    """The standard policy, except that a subject (any unstructured header) in non-ASCII text is
    encoded by `email.header`, which keeps each space inside an encoded word. Python 3.11's folder
    can put the space between two encoded words, where RFC 2047 has readers drop it: the Korean
    subject "얼마나 쉽게" arrived as "얼마나쉽게" for one ticket number in ten."""

    def _encoded(self, name: str, value) -> str | None:
        text = str(value)
        if self.utf8 or text.isascii() or not isinstance(value, UnstructuredHeader):
            return None
        header = Header(text, "utf-8", maxlinelen=self.max_line_length or 78, header_name=name)
        return f"{name}: {header.encode(linesep=self.linesep)}{self.linesep}"

    def fold(self, name, value):
        return self._encoded(name, value) or super().fold(name, value)

    def fold_binary(self, name, value):
        encoded = self._encoded(name, value)
        return encoded.encode("ascii") if encoded else super().fold_binary(name, value)


MAIL_POLICY = MailPolicy(linesep="\r\n")


class MailRefused(Exception):
    def __init__(self, code: int, detail: str):
        self.code, self.detail = code, detail
        super().__init__(f"{code} {detail}")


class MailNotSent(Transient):
    """Nothing was handed over (connection refused, timeout before DATA…)."""


class MailRefusedTemporarily(Transient):
    pass


class MailRefusedPermanently(Permanent):
    pass


class MailUncertain(Exception):
    """The server may have accepted the message."""


def _refused(code: int, text: bytes | str) -> Exception:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    # Servers quote the address they refused ("550 5.1.1 <maria@…>: unknown user"): the reason is
    # stored and logged, and a customer's address belongs in neither.
    detail = f"mail server answered {code} {_ADDRESS.sub('<address>', detail)}"[:300]
    return MailRefusedPermanently(detail) if code >= 500 else MailRefusedTemporarily(detail)


@smtp_watched  # the SMTP health card: last send, last refusal (worker/health)
def send_mail(settings: SmtpSettings, message: EmailMessage, data: bytes | None = None) -> None:
    """Hand the message over: `data` are its bytes if the caller serialized it already."""
    if "Date" not in message:  # RFC 5322 requires it; the time it is handed over
        message["Date"] = formatdate(usegmt=True)
    sender = message["Sender"] or message["From"]
    recipients = [addr for field in ("To", "Cc", "Bcc") for addr in (message.get_all(field) or [])]
    kept = smtp_pool.take(settings) if settings.pool_size else None
    try:
        kept = _envelope(kept, settings, sender, recipients)
    except MailNotSent:
        if kept is None or not kept.reused:
            raise
        # A kept connection the server had dropped says nothing about this message: once more on
        # a fresh connection, which then fails or not on its own.
        kept = _envelope(None, settings, sender, recipients)
    accepted = False
    try:
        # From here on the message may reach the server: only a clear refusal is definite.
        try:
            code, text = kept.smtp.data(data or message.as_bytes(policy=MAIL_POLICY))
        except smtplib.SMTPDataError as exc:
            raise _refused(exc.smtp_code, exc.smtp_error) from None
        except (OSError, socket.timeout, smtplib.SMTPException) as exc:
            raise MailUncertain(f"connection lost while handing over the message: {type(exc).__name__}") from None
        if code != 250:
            raise _refused(code, text)
        accepted = True
    finally:
        if accepted and settings.pool_size:
            smtp_pool.give_back(settings, kept)
        else:
            smtp_pool.close(kept, polite=True)


@contextmanager
def _before_the_message() -> Iterator[None]:
    """Errors before DATA: nothing was handed over, so the server's code (or none) decides."""
    try:
        yield
    except smtplib.SMTPAuthenticationError as exc:
        raise MailRefusedPermanently(f"mail server refused the login: {exc.smtp_code}") from None
    except smtplib.SMTPResponseException as exc:
        raise _refused(exc.smtp_code, exc.smtp_error) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailNotSent(f"mail server connection failed before the message: {type(exc).__name__}") from None


def _connect(settings: SmtpSettings) -> smtp_pool.Kept:
    try:
        cls = smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP
        smtp = cls(settings.host, settings.port, timeout=settings.timeout_seconds)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailNotSent(f"cannot reach the mail server {settings.host}:{settings.port}: "
                          f"{type(exc).__name__}") from None
    kept = smtp_pool.Kept(smtp)
    try:
        with _before_the_message():
            smtp.ehlo_or_helo_if_needed()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            username, password = settings.secret("username"), settings.secret("password")
            if username and password:
                smtp.login(username, password)
    except Exception:
        smtp_pool.close(kept, polite=True)
        raise
    return kept


def _envelope(kept: smtp_pool.Kept | None, settings: SmtpSettings, sender: str,
              recipients: list[str]) -> smtp_pool.Kept:
    """MAIL FROM and RCPT TO on the kept connection (a new one if None); returns the connection,
    or closes it and raises."""
    kept = kept or _connect(settings)
    try:
        with _before_the_message():
            code, text = kept.smtp.mail(_addr(sender))
            if code != 250:
                raise _refused(code, text)
            for rcpt in recipients:
                code, text = kept.smtp.rcpt(_addr(rcpt))
                if code not in (250, 251):
                    raise _refused(code, text)
    except Exception:
        smtp_pool.close(kept, polite=True)
        raise
    return kept


def _addr(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1] or value
