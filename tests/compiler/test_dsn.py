"""DSNs taken apart so that no password, whatever it holds, ends up in a host or a message."""

from __future__ import annotations

import pytest

from flowforge_compiler.dsn import parse_dsn, redact
from flowforge_compiler.errors import ProfileError


@pytest.mark.parametrize(
    ("dsn", "password", "host", "port", "database"),
    [
        ("postgresql+psycopg://app:s3cret@db:5432/ff", "s3cret", "db", 5432, "ff"),
        ("postgresql://app:p@ss@w0rd@db/ff", "p@ss@w0rd", "db", None, "ff"),
        ("postgresql://app:pa:ss/wo?rd@db:6543/ff", "pa:ss/wo?rd", "db", 6543, "ff"),
        ("postgresql://app:p%40ss@[::1]:5432/ff", "p@ss", "::1", 5432, "ff"),
        ("postgresql://app@db/ff?password=q@ry&sslmode=require", None, "db", None, "ff"),
    ],
)
def test_every_password_form_is_found_and_never_in_the_host(dsn, password, host, port, database) -> None:
    parsed = parse_dsn(dsn, "profiles.yml: postgres.dsn")
    assert (parsed.password, parsed.host, parsed.port, parsed.database) == (password, host, port, database)
    for secret in parsed.secrets:
        assert secret not in parsed.redacted() and secret not in parsed.describe()
    assert parsed.username == "app" and "app" in parsed.describe()


@pytest.mark.parametrize(
    "dsn", ["postgresql://app:s3cret@db:port/ff", "postgresql://app:s3cret@db:70000/ff", "app:s3cret@db", "host=db password=s3cret"]
)
def test_malformed_dsns_are_profile_errors_without_the_secret(dsn) -> None:
    with pytest.raises(ProfileError) as info:
        parse_dsn(dsn, "profiles.yml: profile 'prod': postgres.dsn")
    assert "s3cret" not in info.value.render() and "profiles.yml" in info.value.render()


def test_a_port_typo_never_shows_the_text_that_might_be_a_password() -> None:
    with pytest.raises(ProfileError) as info:
        parse_dsn("postgresql://app:hunter2/ff", "postgres.dsn")  # forgot '@host': the password reads as a port
    assert "hunter2" not in info.value.render()


def test_redact_removes_plain_and_url_encoded_forms() -> None:
    assert redact("failed for 'p@ss' (p%40ss)", ["p@ss"]) == "failed for '***' (***)"
