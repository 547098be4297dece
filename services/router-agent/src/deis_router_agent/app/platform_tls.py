"""The platform's certificate: read, checked, copied into the data dir, and followed.

`DEIS_PLATFORM_CERT_FILE` and `DEIS_PLATFORM_KEY_FILE` name PEM files that live where nginx
should not read them from: a Kubernetes Secret volume is a tree of symlinks swapped at every
update, and its files need not be readable by nginx's workers' user. The agent reads both,
checks with `cryptography` that they parse and that the key is the certificate's, and writes
key and chain as one 0600 file of its data dir (`Layout.platform_tls`), the path the
configuration names. At start a bad pair stops the agent with a message naming both files.

Then `follow` reads the files every `platform_cert_check_seconds`. When their content changed
and the new pair is good, it replaces the copy, `nginx -t` checks the live configuration with
it, and nginx reloads (done once the old workers stop accepting, as for the applier's
reloads); a bad pair, or one nginx refuses, is logged once and the pair in use is
kept (written back). The reload is a SIGHUP of its own, not a revision of the applier: the
configuration's text did not change, and a reload the applier makes meanwhile loads the same
(already checked) file.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from deis_router_agent.app.context import Context
from deis_router_agent.domain import keypairs
from deis_router_agent.errors import BadPlatformCertificate
from deis_router_agent.nginx import checking, workers
from deis_router_agent.nginx.layout import Layout
from deis_router_agent.settings import RouterSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Source:
    """The two files' content as last read."""

    certificate: bytes
    key: bytes


def _files(settings: RouterSettings) -> tuple[Path, Path]:
    cert, key = settings.platform_cert_file, settings.platform_key_file
    if cert is None or key is None:
        raise BadPlatformCertificate("no platform certificate is set")
    return cert, key


def read(settings: RouterSettings) -> Source:
    """Both files' bytes.

    Raises:
        BadPlatformCertificate: one cannot be read (the message names it and why).
    """
    cert, key = _files(settings)
    contents = []
    for setting, path in (("CERT", cert), ("KEY", key)):
        try:
            contents.append(path.read_bytes())
        except OSError as error:
            raise BadPlatformCertificate(
                f"DEIS_PLATFORM_{setting}_FILE {path} cannot be read: {error.strerror or error}"
            ) from error
    return Source(certificate=contents[0], key=contents[1])


def combined(source: Source, *, settings: RouterSettings) -> str:
    """The key and the certificate chain as one PEM text (the key first), once checked.

    Raises:
        BadPlatformCertificate: a file does not parse, the key is encrypted, or the key is
            not the certificate's (the message names both files).
    """
    cert_file, key_file = _files(settings)
    try:
        chain, key = keypairs.load(source.certificate, source.key)
    except keypairs.BadPair as error:
        if error.part == "certificate":
            message = f"DEIS_PLATFORM_CERT_FILE {cert_file} holds {error}"
        elif error.part == "key":
            message = f"DEIS_PLATFORM_KEY_FILE {key_file} holds {error}"
        else:
            message = (
                f"the platform certificate and key do not match: the key in "
                f"DEIS_PLATFORM_KEY_FILE {key_file} is not the one of the certificate in "
                f"DEIS_PLATFORM_CERT_FILE {cert_file} (its first certificate must be the "
                f"server's own)"
            )
        raise BadPlatformCertificate(message) from error
    _warn_unless_named(chain[0], settings=settings)
    pem = serialization.Encoding.PEM
    text = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return text + "".join(certificate.public_bytes(pem).decode() for certificate in chain)


def _warn_unless_named(certificate: x509.Certificate, *, settings: RouterSettings) -> None:
    """Log a warning when the certificate names neither `deis.<domain>` nor `*.<domain>`."""
    wanted = {f"deis.{settings.platform_domain}", f"*.{settings.platform_domain}"}
    try:
        found = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = set(found.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = set()
    if not names & wanted:
        logger.warning(
            "the platform certificate (%s) names neither %s: clients will not trust it for "
            "the controller's name",
            settings.platform_cert_file,
            " nor ".join(sorted(wanted)),
        )


async def install(settings: RouterSettings, layout: Layout) -> Source:
    """Read and check the pair, and copy it into the data dir; what was read.

    Raises:
        BadPlatformCertificate: see `read` and `combined`.
    """
    source = await asyncio.to_thread(read, settings)
    pem = combined(source, settings=settings)
    await asyncio.to_thread(layout.write_platform_tls, pem)
    return source


async def follow(
    ctx: Context,
    *,
    installed: Source,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Install the pair again, and reload nginx, whenever its files change; until cancelled."""
    settings, layout = ctx.settings, ctx.layout
    current = combined(installed, settings=settings)
    seen = installed
    while True:
        await sleep(settings.platform_cert_check_seconds)
        try:
            found = await asyncio.to_thread(read, settings)
            if found == seen:
                continue
            seen = found
            pem = combined(found, settings=settings)
        except BadPlatformCertificate as error:
            logger.error("%s; nginx keeps the platform certificate it has", error)
            continue
        if pem == current:
            continue
        await asyncio.to_thread(layout.write_platform_tls, pem)
        message = await checking.check(binary=ctx.binary, prefix=layout.root, conf=layout.live_conf)
        if message is not None:
            await asyncio.to_thread(layout.write_platform_tls, current)
            logger.error(
                "nginx refused the new platform certificate (%s); keeping the one it has: %s",
                settings.platform_cert_file,
                message,
            )
            continue
        current = pem
        master = ctx.master.pid
        old = workers.workers(master) if master is not None else set()
        ctx.master.reload()
        if master is not None and not await workers.wait_until_old_ones_stop_accepting(
            master=master, old=old, seconds=settings.reload_timeout
        ):
            logger.warning("old nginx workers still accept after the platform certificate's reload")
        logger.info(
            "platform certificate changed (%s): nginx reloaded", settings.platform_cert_file
        )
