"""Image references: go-containerregistry (Talos) and distribution/reference (Kyverno) tables."""

from __future__ import annotations

import pytest

from pullguard.engine.reference import (
    InvalidReference,
    KyvernoImageInfo,
    kyverno_image_info,
    kyverno_image_string,
    parse_reference,
    talos_match_subject,
)

D = "sha256:deadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33f"
CENTOS = "sha256:dead07b4d8ed7e29e98de0f4504d87e8880d4347859d839686a31da35a3b532f"


# (input, context, tag, digest, name)
GOOD = [
    # SPEC §3 examples
    ("nginx", "index.docker.io/library/nginx", "latest", None, "index.docker.io/library/nginx:latest"),
    ("docker.io/nginx:latest", "index.docker.io/library/nginx", "latest", None,
     "index.docker.io/library/nginx:latest"),
    ("myuser/app", "index.docker.io/myuser/app", "latest", None, "index.docker.io/myuser/app:latest"),
    ("localhost:5000/a/b:t", "localhost:5000/a/b", "t", None, "localhost:5000/a/b:t"),
    # Docker Hub spelled out, with and without library/
    ("index.docker.io/ubuntu", "index.docker.io/library/ubuntu", "latest", None,
     "index.docker.io/library/ubuntu:latest"),
    ("index.docker.io/library/ubuntu", "index.docker.io/library/ubuntu", "latest", None,
     "index.docker.io/library/ubuntu:latest"),
    ("library/ubuntu", "index.docker.io/library/ubuntu", "latest", None,
     "index.docker.io/library/ubuntu:latest"),
    ("docker.io/myuser/app:v2", "index.docker.io/myuser/app", "v2", None,
     "index.docker.io/myuser/app:v2"),
    # go-containerregistry tag_test.go goodStrictValidationTagNames
    ("gcr.io/g-convoy/hello-world:latest", "gcr.io/g-convoy/hello-world", "latest", None,
     "gcr.io/g-convoy/hello-world:latest"),
    ("gcr.io/google.com/g-convoy/hello-world:latest", "gcr.io/google.com/g-convoy/hello-world",
     "latest", None, "gcr.io/google.com/g-convoy/hello-world:latest"),
    ("gcr.io/project-id/with-nums:v2", "gcr.io/project-id/with-nums", "v2", None,
     "gcr.io/project-id/with-nums:v2"),
    ("us.gcr.io/project-id/image:with.period.in.tag", "us.gcr.io/project-id/image",
     "with.period.in.tag", None, "us.gcr.io/project-id/image:with.period.in.tag"),
    ("gcr.io/project-id/image:w1th-alpha_num3ric.PLUScaps", "gcr.io/project-id/image",
     "w1th-alpha_num3ric.PLUScaps", None, "gcr.io/project-id/image:w1th-alpha_num3ric.PLUScaps"),
    ("domain.with.port:9001/image:latest", "domain.with.port:9001/image", "latest", None,
     "domain.with.port:9001/image:latest"),
    # goodWeakValidationTagNames
    ("namespace/pathcomponent/image", "index.docker.io/namespace/pathcomponent/image", "latest",
     None, "index.docker.io/namespace/pathcomponent/image:latest"),
    ("gcr.io/project-id/implicit-latest", "gcr.io/project-id/implicit-latest", "latest", None,
     "gcr.io/project-id/implicit-latest:latest"),
    ("www.example.test:12345/repo/path", "www.example.test:12345/repo/path", "latest", None,
     "www.example.test:12345/repo/path:latest"),
    # digest_test.go
    ("gcr.io/g-convoy/hello-world@" + D, "gcr.io/g-convoy/hello-world", None, D,
     "gcr.io/g-convoy/hello-world@" + D),
    ("example.text/foo/bar@" + D, "example.text/foo/bar", None, D, "example.text/foo/bar@" + D),
    ("example.text:8443/foo/bar:latest@" + D, "example.text:8443/foo/bar", "latest", D,
     "example.text:8443/foo/bar@" + D),
    ("nginx:latest@" + D, "index.docker.io/library/nginx", "latest", D,
     "index.docker.io/library/nginx@" + D),
    ("library/ubuntu@" + D, "index.docker.io/library/ubuntu", None, D,
     "index.docker.io/library/ubuntu@" + D),
    # ports and hosts
    ("127.0.0.1:5000/team/app:1.0", "127.0.0.1:5000/team/app", "1.0", None,
     "127.0.0.1:5000/team/app:1.0"),
    ("[::1]:5000/team/app", "[::1]:5000/team/app", "latest", None, "[::1]:5000/team/app:latest"),
    ("ghcr.io/siderolabs/talosctl:v1.13.0", "ghcr.io/siderolabs/talosctl", "v1.13.0", None,
     "ghcr.io/siderolabs/talosctl:v1.13.0"),
    # without a URL scheme Go's net/url allows several colons: the port follows the last
    ("a:1:2/app", "a:1:2/app", "latest", None, "a:1:2/app:latest"),
    # the registry keeps its case; only the repository must be lowercase
    ("Registry.Example.com/app", "Registry.Example.com/app", "latest", None,
     "Registry.Example.com/app:latest"),
    # a bare "localhost/" is a Docker Hub namespace in go-containerregistry v0.21.6 (Talos v1.13)
    ("localhost/foo", "index.docker.io/localhost/foo", "latest", None,
     "index.docker.io/localhost/foo:latest"),
    # a registry alone is read as a repository with a tag
    ("localhost:5000", "index.docker.io/library/localhost", "5000", None,
     "index.docker.io/library/localhost:5000"),
    # the 255-character limit: a tag reference is checked before `library/` is added, a digest
    # reference after (NewDigest parses the tag's normalized name again); elsewhere no difference
    ("a" * 248, "index.docker.io/library/" + "a" * 248, "latest", None, "index.docker.io/library/" + "a" * 248 + ":latest"),
    ("a" * 247 + "@" + D, "index.docker.io/library/" + "a" * 247, None, D, "index.docker.io/library/" + "a" * 247 + "@" + D),
    ("ghcr.io/" + "a" * 255 + "@" + D, "ghcr.io/" + "a" * 255, None, D, "ghcr.io/" + "a" * 255 + "@" + D),
    ("index.docker.io/" + "a" * 255, "index.docker.io/library/" + "a" * 255, "latest", None,
     "index.docker.io/library/" + "a" * 255 + ":latest"),
]


@pytest.mark.parametrize("text,context,tag,digest,name", GOOD, ids=[g[0][:60] for g in GOOD])
def test_parse_reference(text, context, tag, digest, name):
    ref = parse_reference(text)
    assert ref.context == context
    assert talos_match_subject(text) == context
    assert ref.tag == tag
    assert ref.digest == digest
    assert ref.name == name
    assert ref.original == text


# (input, words the message must contain, 1-based character the message points at or None)
BAD = [
    # tag_test.go badTagNames
    ("gcr.io/project-id/bad_chars:c@n'tuse", "tag can only contain the characters", 30),
    ("gcr.io/project-id/wrong-length:white space", "tag can only contain the characters", 37),
    ("gcr.io/project-id/too-many-chars:" + "x" * 129, "tag must be between 1 and 128 characters",
     34),
    ("library/ubuntu:", "must specify a tag name after the colon", 15),
    # digest_test.go badDigestNames
    ("gcr.io/project-id/unknown-alg@unknown:abc123", "unsupported digest algorithm", 31),
    ("gcr.io/project-id/wrong-length@sha256:d34db33fd34db33f", "invalid checksum digest length",
     39),
    ("gcr.io/project-id/missing-digest@", "nothing follows the '@'", 33),
    ("repo@sha256:" + ":" * 64, "invalid checksum digest format", 13),
    ("repo@sha256:" + "sh" * 32, "invalid checksum digest format", 13),
    ("repo@" + D + "@" + D, "exactly one '@'", 77),
    ("library/nginx:@" + D, "must specify a tag name after the colon", 14),
    ("repo@sha256:" + "A" * 64, "invalid checksum digest format", 13),
    # repository_test.go badRepositoryNames
    ("white space", "repository can only contain the characters", 6),
    ("b@char/image", "repository can only contain the characters", 2),
    ("", "a repository name must be specified", None),
    # registry_test.go badRegistryNames (as the registry part of a reference)
    ("gcr?com.io/app", "registries must be valid RFC 3986 URI authorities", 4),
    ("user@gcr.io/app", "registries must be valid RFC 3986 URI authorities", 5),
    ("gcr.io:port/app", "registries must be valid RFC 3986 URI authorities", 8),
    ("gcr[1].io/app", "'[' only opens an IPv6 address", 4),
    ("[1.2.3.4]:80/app", "not an IPv6 address", 2),
    ("[nothost]:5000/app", "not an IPv6 address", 2),
    # capitals in the repository
    ("Nginx", "repository can only contain the characters", 1),
    ("ghcr.io/SideroLabs/talos", "repository can only contain the characters", 9),
    # go-containerregistry v0.21.6 wants two characters in a repository
    ("ghcr.io/a", "repository must be between 2 and 255 characters", 9),
    ("gcr.io/" + "a" * 256, "repository must be between 2 and 255 characters", 8),
    # v0.21.9 still wants two (a later, untagged commit allows one), after localhost:5000 too
    ("localhost:5000/a", "repository must be between 2 and 255 characters", 16),
    # a digest reference's normalized name `index.docker.io/library/<name>` is checked again
    ("a" * 248 + "@" + D, "checks a digest reference's normalized name", None),
    ("index.docker.io/" + "a" * 255 + "@" + D, "repository must be between 2 and 255 characters", None),
    ("docker.io/" + "a" * 248 + ":v1@" + D, "checks a digest reference's normalized name", None),
]


@pytest.mark.parametrize("text,words,column", BAD, ids=[b[0][:50] or "empty" for b in BAD])
def test_parse_reference_errors(text, words, column):
    with pytest.raises(InvalidReference) as info:
        parse_reference(text)
    err = info.value
    assert words in str(err)
    assert repr(text) in str(err)  # the message names what was given
    assert (err.offset + 1 if err.offset is not None else None) == column
    if column is not None:
        assert f"(at character {column})" in str(err)


def test_reference_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_reference("UPPER/case:tag")


# Kyverno pkg/utils/image/infos_test.go, default registry docker.io with mutation enabled:
# (input, name, path, registry, tag, digest, String(), ReferenceWithTag)
KYVERNO = [
    ("nginx", "nginx", "nginx", "docker.io", "latest", "", "docker.io/nginx:latest",
     "docker.io/nginx:latest"),
    ("nginx:v10.3", "nginx", "nginx", "docker.io", "v10.3", "", "docker.io/nginx:v10.3",
     "docker.io/nginx:v10.3"),
    ("docker.io/test/nginx:v10.3", "nginx", "test/nginx", "docker.io", "v10.3", "",
     "docker.io/test/nginx:v10.3", "docker.io/test/nginx:v10.3"),
    ("test/nginx", "nginx", "test/nginx", "docker.io", "latest", "", "docker.io/test/nginx:latest",
     "docker.io/test/nginx:latest"),
    ("localhost:4443/test/nginx", "nginx", "test/nginx", "localhost:4443", "latest", "",
     "localhost:4443/test/nginx:latest", "localhost:4443/test/nginx:latest"),
    ("docker.io/test/centos@" + CENTOS, "centos", "test/centos", "docker.io", "", CENTOS,
     "docker.io/test/centos@" + CENTOS, "docker.io/test/centos:"),
    # SPEC §4: the tag is dropped when a digest is present, no library/ is added
    ("nginx:1.25@" + D, "nginx", "nginx", "docker.io", "1.25", D, "docker.io/nginx@" + D,
     "docker.io/nginx:1.25"),
    ("index.docker.io/library/nginx", "nginx", "library/nginx", "index.docker.io", "latest", "",
     "index.docker.io/library/nginx:latest", "index.docker.io/library/nginx:latest"),
    ("localhost/netd:v0.4.4-gke.0", "netd", "netd", "localhost", "v0.4.4-gke.0", "",
     "localhost/netd:v0.4.4-gke.0", "localhost/netd:v0.4.4-gke.0"),
    ("ghcr.io/siderolabs/talos:v1.13.0", "talos", "siderolabs/talos", "ghcr.io", "v1.13.0", "",
     "ghcr.io/siderolabs/talos:v1.13.0", "ghcr.io/siderolabs/talos:v1.13.0"),
    # a first part with capitals is not prefixed, so distribution/reference reads it as a host
    ("Registry/app", "app", "app", "Registry", "latest", "", "Registry/app:latest",
     "Registry/app:latest"),
    # distribution/reference v0.6.0 limits the path to 255 characters, not domain and path
    ("a" * 246, "a" * 246, "a" * 246, "docker.io", "latest", "", "docker.io/" + "a" * 246 + ":latest",
     "docker.io/" + "a" * 246 + ":latest"),
    ("ghcr.io/" + "a" * 248, "a" * 248, "a" * 248, "ghcr.io", "latest", "", "ghcr.io/" + "a" * 248 + ":latest",
     "ghcr.io/" + "a" * 248 + ":latest"),
    ("ghcr.io/" + "a" * 255, "a" * 255, "a" * 255, "ghcr.io", "latest", "", "ghcr.io/" + "a" * 255 + ":latest",
     "ghcr.io/" + "a" * 255 + ":latest"),
]


@pytest.mark.parametrize("text,name,path,registry,tag,digest,string,with_tag", KYVERNO,
                         ids=[k[0][:50] for k in KYVERNO])
def test_kyverno_image_info(text, name, path, registry, tag, digest, string, with_tag):
    info = kyverno_image_info(text)
    assert info == KyvernoImageInfo(registry, name, path, tag, digest, string, with_tag)
    assert kyverno_image_string(text) == string


# infos_test.go with other ConfigMap settings: (input, defaultRegistry, mutation, registry, string)
KYVERNO_CONFIG = [
    ("test/nginx", "gcr.io", True, "gcr.io", "gcr.io/test/nginx:latest"),
    ("test/nginx", "gcr.io", False, "", "test/nginx:latest"),
    # without mutation a first path part with '_' is taken as the registry afterwards
    ("my_reg/app", "docker.io", False, "my_reg", "my_reg/app:latest"),
]


@pytest.mark.parametrize("text,default,mutation,registry,string", KYVERNO_CONFIG)
def test_kyverno_image_info_config(text, default, mutation, registry, string):
    info = kyverno_image_info(text, default, mutation)
    assert info.registry == registry
    assert info.reference == string


@pytest.mark.parametrize("text,words", [
    ("++", "invalid reference format"),  # infos_test.go Test_ParseError
    ("", "invalid reference format"),
    ("ghcr.io/Org/app", "repository name must be lowercase"),
    ("nginx@sha256:abc", "invalid reference format"),  # fewer than 32 hex digits
    ("nginx@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("nginx@sha256:" + "a" * 40, "invalid checksum digest length"),
    ("nginx@sha256:" + "A" * 64, "invalid checksum digest format"),
    ("ghcr.io/" + "a" * 256, "must not be more than 255 characters"),
    ("a" * 256, "must not be more than 255 characters"),
    ("ghcr.io/" + "a" * 256 + "@md5:" + "a" * 32, "must not be more than 255 characters"),  # before the digest
])
def test_kyverno_image_info_errors(text, words):
    with pytest.raises(InvalidReference) as info:
        kyverno_image_info(text)
    assert words in str(info.value)


def test_parse_reference_is_cached():
    assert parse_reference("ghcr.io/org/app:v1") is parse_reference("ghcr.io/org/app:v1")


# --- fuzz: any text gives a Reference or a InvalidReference, never another exception --------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_REF_ALPHABET = st.sampled_from(list("abcAZ019._-/:@[]%# ?é") + ["sha256:", "docker.io/", "a" * 64])


@settings(max_examples=400, deadline=None)
@given(st.lists(_REF_ALPHABET, max_size=12).map("".join))
def test_parse_reference_never_raises_anything_else(text):
    try:
        ref = parse_reference(text)
    except InvalidReference as err:
        assert err.offset is None or 0 <= err.offset <= len(text)
        return
    # the match subject is itself a valid reference naming the same repository
    again = parse_reference(ref.context)
    assert again.context == ref.context
    assert ref.name.startswith(ref.context)


@settings(max_examples=300, deadline=None)
@given(st.lists(_REF_ALPHABET, max_size=12).map("".join))
def test_kyverno_image_info_never_raises_anything_else(text):
    try:
        info = kyverno_image_info(text)
    except InvalidReference:
        return
    assert info.reference.endswith(("@" + info.digest) if info.digest else (":" + info.tag))
