"""The wire format, byte by byte, as git-credential(1) describes it."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from git_credential_sagemaker.credential import protocol
from git_credential_sagemaker.credential.protocol import ProtocolError, Request, parse


def test_basic_request() -> None:
    req = parse(b"protocol=https\nhost=github.com\nusername=alice\npassword=t0k\n\n")
    assert (req.protocol, req.host, req.username, req.password) == (
        "https",
        "github.com",
        "alice",
        "t0k",
    )
    assert req.path is None


def test_crlf_terminators_are_accepted() -> None:
    req = parse(b"protocol=https\r\nhost=example.com:8443\r\n\r\n")
    assert req.host == "example.com:8443"


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"protocol=https\nhost=evil\0.com\n", "NUL"),
        (b"protocol=https\nhost=github.com\rhost=evil.com\n", "CR"),
        (b"protocol=https\nhost github.com\n", "'='"),
        (b"protocol=https\nhost=" + b"a" * 65536 + b"\n", "65535"),
    ],
)
def test_rejected_requests(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        parse(data)


def test_bare_cr_never_becomes_a_new_line() -> None:
    # CVE-2024-52006: text-mode I/O would read this as a second host= line.
    with pytest.raises(ProtocolError):
        parse(b"protocol=https\nhost=good.example\r\rhost=evil.example\n")


def test_unknown_keys_are_ignored_and_arrays_repeat() -> None:
    req = parse(
        b"protocol=https\nhost=h\nfuture_key=1\ncapability[]=authtype\n"
        b'capability[]=state\nwwwauth[]=Basic realm="a"\nwwwauth[]=Bearer\n'
        b"state[]=x\n"
    )
    assert req.capabilities == ("authtype", "state")
    assert req.wwwauth == ('Basic realm="a"', "Bearer")
    assert req.state == ("x",)
    assert req.wants_authtype


def test_input_ends_at_blank_line() -> None:
    req = parse(b"host=a\n\nhost=b\n")
    assert req.host == "a"


def test_empty_username_is_not_absent() -> None:
    assert parse(b"username=\n").username == ""
    assert parse(b"host=x\n").username is None


def test_url_is_split_into_parts_and_replaces_earlier_fields() -> None:
    req = parse(b"username=old\nurl=https://bob:s3cr%2Ft@example.com:8443/org/repo.git\n")
    assert (req.protocol, req.host, req.path, req.username, req.password) == (
        "https",
        "example.com:8443",
        "org/repo.git",
        "bob",
        "s3cr/t",
    )
    assert parse(b"url=https://example.com\n").path is None


def test_url_with_encoded_newline_is_rejected() -> None:
    with pytest.raises(ProtocolError):
        parse(b"url=https://example.com%0ahost=evil/\n")


def test_flags() -> None:
    req = parse(b"ephemeral=1\ncontinue=1\nquit=true\n")
    assert req.ephemeral and req.continue_ and req.quit
    assert not parse(b"ephemeral=0\n").ephemeral


def test_matching_absent_fields_are_wildcards() -> None:
    stored = {"protocol": "https", "host": "h", "path": None, "username": "alice"}
    assert protocol.matches(parse(b"protocol=https\nhost=h\n"), stored)
    assert protocol.matches(parse(b"protocol=https\nhost=h\nusername=alice\n"), stored)
    assert not protocol.matches(parse(b"protocol=https\nhost=h\nusername=bob\n"), stored)
    assert not protocol.matches(parse(b"protocol=http\nhost=h\n"), stored)
    assert not protocol.matches(parse(b"protocol=https\nhost=h\npath=a.git\n"), stored)


def test_answer_prints_authtype_only_when_asked() -> None:
    secrets = {
        "password": "p",
        "authtype": "Bearer",
        "credential": "c",
        "password_expiry_utc": "2000000000",
        "oauth_refresh_token": "r",
    }
    plain = protocol.answer(parse(b"host=h\n"), "alice", secrets).decode()
    assert "authtype" not in plain and "credential=" not in plain
    assert "password_expiry_utc=2000000000\n" in plain and "oauth_refresh_token=r\n" in plain
    asked = protocol.answer(parse(b"capability[]=authtype\nhost=h\n"), "alice", secrets).decode()
    assert asked.startswith("capability[]=authtype\n")
    assert "authtype=Bearer\n" in asked and "credential=c\n" in asked


def test_repr_hides_secrets() -> None:
    req = parse(b"host=h\npassword=hunter2\noauth_refresh_token=rt\ncredential=cc\n")
    assert "hunter2" not in repr(req) and "rt" not in repr(req).replace("Request", "")


def test_capability_answer() -> None:
    assert protocol.capability_answer() == b"version 0\ncapability authtype\n"


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_else(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse(data)


values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\r\n"), max_size=20
)
requests = st.builds(
    Request,
    protocol=st.none() | values,
    host=st.none() | values,
    path=st.none() | values,
    username=st.none() | values,
    password=st.none() | values,
    password_expiry_utc=st.none() | values,
    oauth_refresh_token=st.none() | values,
    authtype=st.none() | values,
    credential=st.none() | values,
    ephemeral=st.booleans(),
    capabilities=st.lists(values, max_size=3).map(tuple),
    wwwauth=st.lists(values, max_size=3).map(tuple),
    state=st.lists(values, max_size=3).map(tuple),
    continue_=st.booleans(),
    quit=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(requests)
def test_format_then_parse_gives_the_request_back(req: Request) -> None:
    assert parse(protocol.format_request(req)) == req


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parsed_bytes_round_trip(data: bytes) -> None:
    try:
        req = parse(data)
    except ProtocolError:
        return
    assert parse(protocol.format_request(req)) == req
