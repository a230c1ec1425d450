"""Alerts: tell a person when a run did not publish, by webhook and/or e-mail.

An alert is best effort: a receiver that is down is logged (without its URL, which is a
credential) and never turns a run's own outcome into something else.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterable
from email.message import EmailMessage

import requests
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from flows.config import Alerts, Config, ConfigError, SmtpAlerts, settings

log = logging.getLogger(__name__)
REDACTED = "[redacted]"
# Shorter strings are too likely to occur by chance (and too weak to be real secrets).
_MIN_SECRET_LEN = 6


def secret_values(config: Config, extra: Iterable[str] = ()) -> list[str]:
    """Every secret this run knows, so each outgoing text can be scrubbed of them."""
    values: list[str] = list(extra)
    settings_secret = settings().pseudonym_secret
    if settings_secret is not None:
        values.append(settings_secret.get_secret_value())
    for source in config.sources:
        try:
            values.extend(source.resolve_secrets())
        except ConfigError:
            pass
    alerts = config.alerts
    if alerts is not None:
        refs = [alerts.webhook, alerts.smtp.password if alerts.smtp else None]
        for ref in refs:
            if ref is not None:
                try:
                    values.append(ref.resolve())
                except Exception:  # a missing secret is reported where it is used
                    pass
    return sorted({v for v in values if v and len(v) >= _MIN_SECRET_LEN}, key=len, reverse=True)


def redact(text: str | None, secrets: Iterable[str]) -> str | None:
    """`text` with every secret value replaced (longest first, so prefixes do not leak)."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _retriable(exc: BaseException) -> bool:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


@retry(
    retry=retry_if_exception(_retriable),
    stop=stop_after_attempt(3),
    wait=wait_exponential(multiplier=1, max=10),
    reraise=True,
)
def _post(url: str, payload: dict, timeout: float) -> None:
    response = requests.post(url, json=payload, timeout=timeout)
    response.raise_for_status()


def _mail(smtp: SmtpAlerts, subject: str, body: str, timeout: float) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.to)
    message.set_content(body)
    cls = smtplib.SMTP_SSL if smtp.security == "ssl" else smtplib.SMTP
    with cls(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if smtp.username and smtp.password is not None:
            client.login(smtp.username, smtp.password.resolve())
        client.send_message(message)


def alert_payload(summary: dict, text: str) -> dict:
    """What a receiver gets: Slack/Teams-style `text` plus the fields a machine wants."""
    return {
        "text": text,
        "run_id": summary["run_id"],
        "status": summary["status"],
        "failed_stage": summary.get("failed_stage"),
        "error": summary.get("error"),
        "gate": summary.get("gate"),
        "published": summary.get("published", False),
        "started_at": summary.get("started_at"),
        "finished_at": summary.get("finished_at"),
    }


def send_alerts(alerts: Alerts | None, summary: dict, text: str, secrets: list[str]) -> list[str]:
    """Notify every configured receiver if the run's status asks for it; returns where it went.

    `summary` and `text` are scrubbed of `secrets` here too, whatever the caller did.
    """
    if alerts is None or summary["status"] not in alerts.on:
        return []
    text = redact(text, secrets) or ""
    payload = {
        k: redact(v, secrets) if isinstance(v, str) else v
        for k, v in alert_payload(summary, text).items()
    }
    sent: list[str] = []
    if alerts.webhook is not None:
        try:
            _post(alerts.webhook.resolve(), payload, alerts.timeout_seconds)
            sent.append("webhook")
        except ConfigError as exc:
            log.error("alert webhook not sent: %s", exc)
        except requests.RequestException as exc:
            # The exception text can hold the URL, which is a credential.
            log.error("alert webhook not sent: %s", redact(str(exc), secrets))
    if alerts.smtp is not None:
        stage = f" at {payload['failed_stage']}" if payload.get("failed_stage") else ""
        subject = f"refnet run {payload['run_id']}: {payload['status']}{stage}"
        try:
            _mail(alerts.smtp, subject, text, alerts.timeout_seconds)
            sent.append("email")
        except (ConfigError, OSError, smtplib.SMTPException) as exc:
            log.error("alert e-mail not sent: %s", redact(str(exc), secrets))
    return sent
