"""engine.endpoints: the one set of rules for a mirror endpoint string (`--mirror`, Talos mirror
documents, PolicyTest files), and the redaction of credentials in every message it builds."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pullguard.engine.endpoints import EndpointError, EndpointSpec, parse_endpoint, redact_url, redact_userinfo


@pytest.mark.parametrize(
    "value, spec",
    [
        ("https://mirror.example.com", EndpointSpec("https://mirror.example.com", "https", "mirror.example.com", "")),
        ("  http://127.0.0.1:5000/  ", EndpointSpec("http://127.0.0.1:5000/", "http", "127.0.0.1:5000", "/")),
        ("HTTPS://Harbor.Local/v2/proxy", EndpointSpec("HTTPS://Harbor.Local/v2/proxy", "https", "harbor.local", "/v2/proxy")),
        ("http://[::1]:5000/x", EndpointSpec("http://[::1]:5000/x", "http", "[::1]:5000", "/x")),
        ("http://localhost:65535", EndpointSpec("http://localhost:65535", "http", "localhost:65535", "")),
        ("oci:./layout", EndpointSpec("oci:./layout", "oci", "", "./layout")),
        ("oci:/abs/layout", EndpointSpec("oci:/abs/layout", "oci", "", "/abs/layout")),
    ],
)
def test_accepted(value, spec):
    assert parse_endpoint(value) == spec


@pytest.mark.parametrize(
    "value, override_path, api_base",
    [
        ("https://harbor/v2/k8s", True, "https://harbor/v2/k8s"),
        ("https://mirror.example.com/docker-io/", False, "https://mirror.example.com/docker-io/v2"),
        ("http://127.0.0.1:5000", False, "http://127.0.0.1:5000/v2"),
    ],
)
def test_api_base(value, override_path, api_base):
    spec = parse_endpoint(value, override_path=override_path)
    assert (spec.override_path, spec.api_base, str(spec)) == (override_path, api_base, value)


@pytest.mark.parametrize(
    "value, message",
    [
        ("mirror.example.com", "mirror for docker.io: endpoint 'mirror.example.com' must start with http://, https:// or oci:"),
        ("ftp://mirror", "endpoint 'ftp://mirror' must start with http://, https:// or oci:"),
        ("http://", "must start with http://, https:// or oci:"),
        ("oci:", "`oci:` needs a path to an OCI image layout directory"),
        ("https://user:pw@mirror", "credentials in the endpoint URL are not supported; use docker config.json"),
        ("https://m/x?a=1", "endpoint https://m/x must not have a query"),
        ("https://m#frag", "endpoint https://m must not have a query"),
        # issue 11 #10: these crashed with a traceback (urlsplit's ValueError)
        ("https://[::1", "endpoint 'https://[::1' is not a valid URL: '[' opens an IPv6 address that no ']' closes"),
        ("http://[zz]:5000", "endpoint 'http://[zz]:5000' is not a valid URL: 'zz' in brackets is not an IPv6 address"),
        ("http://[::1]x", "'x' after the IPv6 address is not ':PORT'"),
        ("http://h:99999", "the port must be a number from 1 to 65535, found '99999'"),
        ("http://h:0", "the port must be a number from 1 to 65535, found '0'"),
        ("http://h:x", "the port must be a number from 1 to 65535, found 'x'"),
        ("http://h:", "the port must be a number from 1 to 65535, found ''"),
        ("http://:5000", "the host is empty"),
        ("http://a b", "the host holds ' '"),
        # Python's urlsplit drops tabs and newlines silently: `h\nost` would be `host`
        ("https://h\nost", "endpoint 'https://h\\nost' contains a control character"),
        ("https://h\x1b[31m", "contains a control character"),
    ],
)
def test_refused(value, message):
    with pytest.raises(EndpointError) as info:
        parse_endpoint(value, where="mirror for docker.io")
    assert message in str(info.value)
    assert str(info.value).startswith("mirror for docker.io: ")


def test_layout_checked_on_request(tmp_path):
    assert parse_endpoint(f"oci:{tmp_path}").path == str(tmp_path)
    with pytest.raises(EndpointError, match="is not an OCI image layout"):
        parse_endpoint(f"oci:{tmp_path}", check_layout=True)
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    assert parse_endpoint(f"oci:{tmp_path}", check_layout=True).is_oci


@pytest.mark.parametrize(
    "value, secret",
    [
        ("ftp://bob:Secr3tPW@127.0.0.1:1", "Secr3tPW"),  # issue 11 #11: quoted whole in the scheme error
        ("mirror://bob:Secr3tPW@127.0.0.1", "Secr3tPW"),
        ("https://bob:Secr3t@PW@127.0.0.1:1", "PW@"),  # split at the LAST '@'
        ("ftp://bob:Secr3t@PW@127.0.0.1:1", "PW@"),
        ("http://bob:se/cret@127.0.0.1", "se"),  # by the URL grammar host 'bob', port 'se/cret…'
        ("http://[bob:pa/ss@127.0.0.1", "pa"),
        ("https://bob:Secr3t@h:99999", "Secr3t"),
        ("https://bob:Secr3t@h\n", "Secr3t"),
    ],
)
def test_messages_never_hold_the_password(value, secret):
    with pytest.raises(EndpointError) as info:
        parse_endpoint(value)
    assert secret not in str(info.value)
    assert "bob" not in str(info.value)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("http://bob:Secr3t@PW@127.0.0.1:3128", "http://***@127.0.0.1:3128"),
        ("https://u@h/x", "https://***@h/x"),
        ("https://h/x", "https://h/x"),
        ("oci:./l", "oci:./l"),
    ],
)
def test_redact_url(text, shown):
    assert redact_url(text) == shown


@pytest.mark.parametrize(
    "text, shown",
    [
        ("HTTPS_PROXY=http://bob:Secr3t@PW@127.0.0.1:3128 is used", "HTTPS_PROXY=http://***@127.0.0.1:3128 is used"),
        ("a https://x/y, then 'ftp://b:c@d'", "a https://x/y, then 'ftp://***@d'"),
        ("no url here: bob@host", "no url here: bob@host"),
    ],
)
def test_redact_userinfo_in_text(text, shown):
    assert redact_userinfo(text) == shown


def test_relative_layout_placed_under_a_directory():
    spec = parse_endpoint("oci:../registry").with_layout_under("samples/talos")
    assert (spec.url, spec.path) == ("oci:samples/registry", "samples/registry")
    for value in ("oci:/abs", "oci:~/l", "https://m/x"):
        assert parse_endpoint(value).with_layout_under("d") == parse_endpoint(value)


@given(st.text(max_size=40), st.text(min_size=1, max_size=12))
def test_any_text_is_a_spec_or_an_error_without_the_userinfo(text, password):
    assume("bob" not in text)
    for value in (text, f"https://bob:{password}@{text}", f"{text}://bob:{password}@h", f"http://{text}bob:{password}@h"):
        try:
            parse_endpoint(value, where="w")
        except EndpointError as exc:  # nothing else: never a traceback
            assert "bob" not in str(exc)
