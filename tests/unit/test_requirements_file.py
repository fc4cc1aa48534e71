"""Tests for bundler.request.requirements_file: pip requirement-file syntax for `lock -r`."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from bundler.errors import InputError
from bundler.request.requirements_file import (
    Req,
    RequirementsInput,
    parse_requirement_arg,
    parse_requirements_file,
    parse_requirements_files,
    parse_requirements_text,
)

SRC = "requirements.txt"
H1 = "a" * 64
H2 = "b" * 64


def parse(text: str, env: dict[str, str] | None = None, base: Path = Path()) -> RequirementsInput:
    return parse_requirements_text(textwrap.dedent(text), SRC, base, env=env or {})


def reqs(text: str, env: dict[str, str] | None = None) -> list[tuple[str, int | None]]:
    """(requirement, line) of every requirement in ``text``."""
    return [(str(r), r.line) for r in parse(text, env).requirements]


def parse_error(text: str, env: dict[str, str] | None = None, base: Path = Path()) -> InputError:
    with pytest.raises(InputError) as info:
        parse(text, env, base)
    assert info.value.exit_code == 2
    return info.value


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------ requirement lines


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("numpy", "numpy"),
        ("numpy>=2,<3", "numpy<3,>=2"),
        ("numpy >= 2 , < 3", "numpy<3,>=2"),
        ("Pandas[excel,plot]==2.2.3", "Pandas[excel,plot]==2.2.3"),
        ('torch; sys_platform == "linux"', 'torch; sys_platform == "linux"'),
        (
            'scipy>=1.13 ; python_version >= "3.10" and platform_machine == "x86_64"',
            'scipy>=1.13; python_version >= "3.10" and platform_machine == "x86_64"',
        ),
        (
            "mylib @ https://example.org/mylib-1.0-py3-none-any.whl",
            "mylib @ https://example.org/mylib-1.0-py3-none-any.whl",
        ),
        (
            "mylib @ https://example.org/mylib-1.0.tar.gz#sha256=" + H1,
            "mylib @ https://example.org/mylib-1.0.tar.gz#sha256=" + H1,
        ),
        ("my-lib @ file:///wheels/my_lib-1.0-py3-none-any.whl", None),
        ("zope.interface~=6.0", "zope.interface~=6.0"),
        ("numpy==2.*", "numpy==2.*"),
        ("numpy  # a trailing comment", "numpy"),
        ("\tnumpy\t", "numpy"),
    ],
)
def test_requirement_lines(line: str, expected: str | None) -> None:
    [req] = parse(line + "\n").requirements
    assert str(req) == (expected or str(Requirement(line)))
    assert (req.source, req.line, req.constraint) == (SRC, 1, False)


def test_req_equality_ignores_spelling() -> None:
    a = parse_requirement_arg("Foo[b,a]>=1,<2", "command line")
    b = parse_requirement_arg("foo[a,b] <2, >=1", "command line")
    assert a == b
    assert hash(a) == hash(b)
    assert a != parse_requirement_arg("foo>=1", "command line")
    assert a.name == "foo"
    assert {a, b} == {a}


def test_comments_blank_lines_and_line_numbers() -> None:
    text = """\
        # a comment

        numpy   # trailing
          # indented comment
        pandas
        #scipy
        url-lib @ https://x.org/u.whl#egg=url-lib
    """
    assert reqs(text) == [
        ("numpy", 3),
        ("pandas", 5),
        ("url-lib @ https://x.org/u.whl#egg=url-lib", 7),
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings(newline: str) -> None:
    text = newline.join(["# c", "numpy", "", "pandas \\", "  >=2", ""])
    result = parse_requirements_text(text, SRC, Path(), env={})
    assert [(str(r), r.line) for r in result.requirements] == [("numpy", 2), ("pandas>=2", 4)]


def test_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / SRC
    path.write_bytes(b"\xef\xbb\xbfnumpy\r\npandas\r\n")
    assert [r.name for r in parse_requirements_file(path).requirements] == ["numpy", "pandas"]
    assert parse_requirements_text("\ufeffnumpy", SRC, tmp_path).requirements[0].name == "numpy"


# ------------------------------------------------------------------ continuations


def test_continuations_take_the_first_line_number() -> None:
    text = f"""\
        numpy==2.0.2 \\
            --hash=sha256:{H1} \\
            --hash=sha256:{H2}
        pandas\\
        ==2.2.3
        scipy
    """
    result = parse(text)
    assert [(str(r), r.line) for r in result.requirements] == [
        ("numpy==2.0.2", 1),
        ("pandas==2.2.3", 4),
        ("scipy", 6),
    ]
    assert result.requirements[0].hashes == (f"sha256:{H1}", f"sha256:{H2}")


def test_error_in_a_continued_line_names_its_first_line() -> None:
    text = "numpy\n\nbad \\\n  ==1 \\\n  nonsense\nscipy\n"
    error = parse_error(text)
    assert str(error).startswith(f"{SRC}:3: 'bad   ==1   nonsense' is not a valid requirement")
    assert error.line == 3


def test_a_comment_line_ends_a_continuation() -> None:
    # pip-compile --generate-hashes --annotate wrote this for years (pip-tools#1063).
    text = f"""\
        numpy==1.18.1 \\
            --hash=sha256:{H1} \\
            # via scipy
        scipy==1.4.1
    """
    assert reqs(text) == [("numpy==1.18.1", 1), ("scipy==1.4.1", 4)]


def test_trailing_blanks_after_a_backslash_still_continue() -> None:
    assert reqs("numpy \\  \n  >=2\n") == [("numpy>=2", 1)]


def test_backslash_on_the_last_line() -> None:
    assert reqs("numpy \\") == [("numpy", 1)]


def test_a_comment_ending_in_backslash_does_not_continue() -> None:
    assert reqs("# see \\\nnumpy\n") == [("numpy", 2)]


# ------------------------------------------------------------------ options


def test_index_options() -> None:
    result = parse(
        """\
        -i https://mirror.example/simple
        --extra-index-url https://download.pytorch.org/whl/cu121
        --extra-index-url=https://extra.example/simple
        --extra-index-url https://extra.example/simple
        -f https://wheels.example/links.html
        --find-links ./wheels
        -f../more
        --pre
        --prefer-binary
        --require-hashes
        numpy
        """,
        base=Path("proj"),
    )
    assert result.index_url == "https://mirror.example/simple"
    assert result.extra_index_urls == (
        "https://download.pytorch.org/whl/cu121",
        "https://extra.example/simple",
    )
    assert result.find_links == ("https://wheels.example/links.html", "proj/wheels", "more")
    assert result.pre is True
    assert result.no_index is False
    assert [r.name for r in result.requirements] == ["numpy"]


def test_defaults() -> None:
    assert parse("numpy\n") == RequirementsInput(requirements=parse("numpy\n").requirements)
    empty = parse("# nothing\n\n")
    assert empty == RequirementsInput()


def test_several_options_on_one_line_and_equals_forms() -> None:
    result = parse("--no-index --find-links=wheels --index-url=https://i.example/simple\n")
    assert result.no_index is True
    assert result.find_links == ("wheels",)
    assert result.index_url == "https://i.example/simple"


def test_the_same_index_url_twice_is_fine() -> None:
    assert (
        parse("-i https://a/simple\n--index-url https://a/simple\n").index_url == "https://a/simple"
    )


@pytest.mark.parametrize(
    ("lines", "no_binary", "only_binary"),
    [
        (["--only-binary :all:"], (), (":all:",)),
        (["--no-binary numpy,Pandas"], ("numpy", "pandas"), ()),
        (["--only-binary :all:", "--no-binary scipy"], ("scipy",), (":all:",)),
        (["--no-binary :all:", "--only-binary numpy"], (":all:",), ("numpy",)),
        (["--no-binary numpy", "--only-binary numpy"], (), ("numpy",)),
        (["--no-binary numpy", "--no-binary :none:"], (), ()),
        (["--no-binary=:all:", "--only-binary=:all:"], (), (":all:",)),
        (["--only-binary :all:,:none:,Scikit_Learn"], (), ("scikit-learn",)),
    ],
)
def test_binary_options_follow_pip(
    lines: list[str], no_binary: tuple[str, ...], only_binary: tuple[str, ...]
) -> None:
    result = parse("\n".join(lines))
    assert (result.no_binary, result.only_binary) == (no_binary, only_binary)


def test_hashes_are_normalised_sorted_and_deduplicated() -> None:
    text = f"numpy --hash=sha256:{H2} --hash sha256:{H1.upper()} --hash=SHA256:{H2}\n"
    [req] = parse(text).requirements
    assert req.hashes == (f"sha256:{H1}", f"sha256:{H2}")
    sha512 = "c" * 128
    assert parse(f"x --hash=sha512:{sha512}").requirements[0].hashes == (f"sha512:{sha512}",)


# ------------------------------------------------------------------ environment variables


def test_environment_variables() -> None:
    env = {"TOKEN": "s3cr3t", "VERSION_2": "2.0"}
    result = parse(
        """\
        --index-url https://user:${TOKEN}@private.example/simple
        mylib==${VERSION_2}
        other @ https://host/$NOT_EXPANDED/other.whl
        """,
        env,
    )
    assert result.index_url == "https://user:s3cr3t@private.example/simple"
    assert [str(r) for r in result.requirements] == [
        "mylib==2.0",
        "other @ https://host/$NOT_EXPANDED/other.whl",
    ]


def test_environment_variables_default_to_os_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KBUNDLE_TEST_PIN", "1.2.3")
    path = write(tmp_path / SRC, "mylib==${KBUNDLE_TEST_PIN}\n")
    assert str(parse_requirements_file(path).requirements[0]) == "mylib==1.2.3"


def test_an_unset_variable_is_an_error_that_does_not_leak_others() -> None:
    error = parse_error("\n-i https://u:${TOKEN}@h/${MISSING}/simple\n", {"TOKEN": "s3cr3t"})
    assert str(error).startswith(f"{SRC}:2: environment variable ${{MISSING}} is not set")
    assert "s3cr3t" not in str(error)


def test_error_messages_quote_the_text_before_expansion() -> None:
    error = parse_error("-i https://u:${TOKEN}@h/simple --bogus\n", {"TOKEN": "s3cr3t"})
    assert "${TOKEN}" in str(error)
    assert "s3cr3t" not in str(error)


# ------------------------------------------------------------------ nested files


def test_nested_requirements_and_constraints_are_relative_to_their_file(tmp_path: Path) -> None:
    top = write(
        tmp_path / "reqs" / "requirements.txt",
        """\
        numpy
        -r common/base.txt
        --constraint ../constraints.txt
        seaborn
        """,
    )
    write(
        tmp_path / "reqs" / "common" / "base.txt",
        """\
        # base
        pandas>=2
        -r more.txt
        -f ../wheels
        """,
    )
    write(tmp_path / "reqs" / "common" / "more.txt", "scipy\n")
    write(tmp_path / "constraints.txt", "scipy<1.14\n-c pins/extra.txt\n-r pins/also.txt\n")
    write(tmp_path / "pins" / "extra.txt", "numpy<2.1\n")
    write(tmp_path / "pins" / "also.txt", "pandas<3\n")

    result = parse_requirements_file(top)
    root = str(tmp_path)
    assert [(r.name, r.source, r.line) for r in result.requirements] == [
        ("numpy", f"{root}/reqs/requirements.txt", 1),
        ("pandas", f"{root}/reqs/common/base.txt", 2),
        ("scipy", f"{root}/reqs/common/more.txt", 1),
        ("seaborn", f"{root}/reqs/requirements.txt", 4),
    ]
    # Everything a constraints file includes is a constraint, -r or -c.
    assert [(r.name, r.source, r.line, r.constraint) for r in result.constraints] == [
        ("scipy", f"{root}/constraints.txt", 1, True),
        ("numpy", f"{root}/pins/extra.txt", 1, True),
        ("pandas", f"{root}/pins/also.txt", 1, True),
    ]
    assert result.find_links == (f"{root}/reqs/wheels",)


def test_nested_files_keep_the_relative_names_the_user_gave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "reqs" / "requirements.txt", "-r ../shared/base.txt\n-c pins.txt\n")
    write(tmp_path / "shared" / "base.txt", "pandas\n")
    write(tmp_path / "reqs" / "pins.txt", "pandas<3\n")
    result = parse_requirements_file(Path("reqs/requirements.txt"))
    [req] = result.requirements
    assert (req.source, req.line, req.location, req.via) == (
        "shared/base.txt",
        1,
        "shared/base.txt:1",
        "-r shared/base.txt",
    )
    assert result.sources() == {"pandas": ("-c reqs/pins.txt", "-r shared/base.txt")}


def test_text_includes_are_relative_to_base_dir(tmp_path: Path) -> None:
    write(tmp_path / "base.txt", "pandas\n")
    result = parse_requirements_text("numpy\n-r base.txt\n", "<stdin>", tmp_path, env={})
    assert [(r.name, r.source) for r in result.requirements] == [
        ("numpy", "<stdin>"),
        ("pandas", str(tmp_path / "base.txt")),
    ]


def test_the_same_file_twice_is_not_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "-r common.txt\n-r b.txt\n")
    write(tmp_path / "b.txt", "-r common.txt\n")
    write(tmp_path / "common.txt", "numpy\n")
    result = parse_requirements_file(tmp_path / "a.txt")
    assert [r.name for r in result.requirements] == ["numpy", "numpy"]


@pytest.mark.parametrize(
    ("files", "where", "cycle"),
    [
        ({"a.txt": "numpy\n-r a.txt\n"}, "a.txt:2", "a.txt -> a.txt"),
        (
            {"a.txt": "-r b.txt\n", "b.txt": "\n\n-c sub/../a.txt\n"},
            "b.txt:3",
            "a.txt -> b.txt -> a.txt",
        ),
    ],
)
def test_include_cycles_are_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    where: str,
    cycle: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(InputError) as info:
        parse_requirements_file(Path("a.txt"))
    assert str(info.value).startswith(f"{where}: ")
    assert f"includes itself: {cycle}" in str(info.value)


def test_a_missing_nested_file_is_an_error_at_the_including_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "requirements.txt", "numpy\n\n-r sub/missing.txt\n")
    with pytest.raises(InputError) as info:
        parse_requirements_file(Path("requirements.txt"))
    assert str(info.value) == (
        "requirements.txt:3: cannot read the file 'sub/missing.txt' it includes "
        "(sub/missing.txt): No such file or directory"
    )


def test_a_nested_file_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "requirements.txt", "-c pins.txt\n")
    (tmp_path / "pins.txt").write_bytes(b"numpy\xff\n")
    with pytest.raises(InputError, match=r"^requirements.txt:1: the file 'pins.txt' it includes"):
        parse_requirements_file(Path("requirements.txt"))


def test_errors_in_a_nested_file_name_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "requirements.txt", "numpy\n-r lib/extra.txt\n")
    write(tmp_path / "lib" / "extra.txt", "pandas\n-e .\n")
    with pytest.raises(InputError, match=r"^lib/extra.txt:2: '-e \.': option '-e'"):
        parse_requirements_file(Path("requirements.txt"))


def test_top_level_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the file: No such file") as info:
        parse_requirements_file(tmp_path / "nope.txt")
    assert str(tmp_path / "nope.txt") in str(info.value)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9\n")
    with pytest.raises(InputError, match="is not UTF-8 text"):
        parse_requirements_file(bad)


def test_several_files_share_one_state(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", "-i https://a/simple\nnumpy\n")
    b = write(tmp_path / "b.txt", "pandas\n--extra-index-url https://b/simple\n")
    result = parse_requirements_files([a, b], env={})
    assert [r.via for r in result.requirements] == [f"-r {a}", f"-r {b}"]
    assert (result.index_url, result.extra_index_urls) == (
        "https://a/simple",
        ("https://b/simple",),
    )
    c = write(tmp_path / "c.txt", "-i https://c/simple\n")
    with pytest.raises(InputError, match="^" + re.escape(f"{c}:1: --index-url https://c/simple")):
        parse_requirements_files([a, c], env={})


def test_files_read_as_constraints(tmp_path: Path) -> None:
    """``kbundle lock -c FILE``: the file and what it includes are constraints."""
    path = write(tmp_path / "pins.txt", "numpy<2.1\n-r more.txt\n")
    write(tmp_path / "more.txt", "pandas<3\n")
    result = parse_requirements_file(path, constraint=True, env={})
    assert result.requirements == ()
    assert [(r.name, r.via) for r in result.constraints] == [
        ("numpy", f"-c {path}"),
        ("pandas", f"-c {tmp_path / 'more.txt'}"),
    ]


# ------------------------------------------------------------------ errors


ERRORS = [
    pytest.param("-e .", "'-e .': option '-e' is not supported: editable", id="editable"),
    pytest.param("--editable=./lib", "option '--editable' is not supported", id="editable-long"),
    pytest.param("-e git+https://x/y.git#egg=y", "option '-e' is not supported", id="editable-vcs"),
    pytest.param(
        "--use-feature=fast-deps", "option '--use-feature' is not supported", id="feature"
    ),
    pytest.param("--trusted-host example.org", "'--trusted-host' is not supported", id="trusted"),
    pytest.param("numpy --config-settings=a=b", "option '--config-settings' is not", id="config"),
    pytest.param("--bogus", "unknown option '--bogus' in '--bogus'", id="unknown"),
    pytest.param("-x foo", "unknown option '-x' in '-x foo'", id="unknown-short"),
    pytest.param(
        "numpy -i https://a/simple", "option '-i' must be on a line of its own", id="after"
    ),
    pytest.param("--pre numpy", "unexpected 'numpy' in '--pre numpy'", id="req-after-option"),
    pytest.param("--pre=yes", "'--pre=yes': option '--pre' takes no value", id="flag-value"),
    pytest.param("-r", "'-r': option '-r' needs a value", id="no-value"),
    pytest.param("--requirement=", "option '--requirement' needs a value", id="empty-value"),
    pytest.param("-c --pre", "option '-c' needs a value", id="value-is-option"),
    pytest.param("--hash=sha256:" + H1, "has --hash but no requirement", id="lone-hash"),
    pytest.param("numpy --hash=md5:abc", "'--hash=md5:abc' is not a valid hash", id="md5"),
    pytest.param("numpy --hash=sha256:abc", "'--hash=sha256:abc' is not a valid hash", id="short"),
    pytest.param("numpy --hash=" + H1, "is not a valid hash", id="no-algorithm"),
    pytest.param("numpy --hash=sha256:" + "g" * 64, "is not a valid hash", id="not-hex"),
    pytest.param("-i 'https://a/simple", "cannot split the options of", id="quote"),
    pytest.param(
        "-i pypi.org/simple", "option '-i' expects a URL, not 'pypi.org/simple'", id="url"
    ),
    pytest.param("--extra-index-url ./x", "expects a URL", id="extra-url"),
    pytest.param("-r https://x/req.txt", "kbundle reads requirement files from disk", id="-r-url"),
    pytest.param("--no-binary bad/name", "'bad/name' is not a project name", id="binary-name"),
    pytest.param("numpy===", "'numpy===' is not a valid requirement (Expected", id="syntax"),
    pytest.param("numpy==2.0 pandas", "'numpy==2.0 pandas' is not a valid requirement", id="two"),
    pytest.param("./wheels/x-1.0-py3-none-any.whl", "'name @ file:///absolute/path", id="path"),
    pytest.param("https://x.org/x-1.0.whl", "write 'name @ https://x.org/x-1.0.whl'", id="url-req"),
    pytest.param("numpy; python_version >> '3'", "is not a valid requirement", id="marker"),
    pytest.param("numpy ${NOPE}", "environment variable ${NOPE} is not set", id="env"),
]


@pytest.mark.parametrize(("line", "message"), ERRORS)
def test_errors_name_the_file_and_line(line: str, message: str) -> None:
    error = parse_error(f"# header\nnumpy\n{line}\nscipy\n")
    assert str(error).startswith(f"{SRC}:3: ")
    assert (error.source, error.line) == (SRC, 3)
    assert message in str(error)


def test_requirement_errors_say_what_is_expected() -> None:
    error = parse_error("numpy==2.0 pandas\n")
    assert error.hint is not None
    assert "Expected a PEP 508 requirement such as 'numpy>=2'" in error.hint
    # packaging's caret diagram would break the one-paragraph CLI message.
    assert "\n" not in str(error)


def test_constraints_cannot_have_extras(tmp_path: Path) -> None:
    write(tmp_path / "c.txt", "numpy\npandas[excel]<3\n")
    with pytest.raises(InputError, match=r"c.txt:2: the constraint 'pandas\[excel\]<3' has extras"):
        parse("-c c.txt\n", base=tmp_path)


def test_conflicting_index_urls_name_both_places() -> None:
    error = parse_error("-i https://a/simple\nnumpy\n--index-url https://b/simple\n")
    assert str(error).startswith(
        f"{SRC}:3: --index-url https://b/simple conflicts with --index-url https://a/simple "
        f"given at {SRC}:1"
    )


# ------------------------------------------------------------------ command-line arguments


def test_requirement_arguments() -> None:
    req = parse_requirement_arg("  pandas[excel]>=2 ", "command line")
    assert req == Req(Requirement("pandas[excel]>=2"), "command line")
    assert (req.name, req.line, req.location, req.via, req.hashes) == (
        "pandas",
        None,
        "command line",
        "command line",
        (),
    )


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("", "an empty requirement is not valid"),
        ("-e .", "'-e .' is an option, not a requirement"),
        ("numpy>>2", "'numpy>>2' is not a valid requirement"),
        ("./dist/x.whl", "'./dist/x.whl' is not a valid requirement"),
    ],
)
def test_requirement_argument_errors_name_the_argument(arg: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_requirement_arg(arg, "argument 2")
    assert str(info.value).startswith(f"argument 2: {message}")
    assert info.value.line is None
