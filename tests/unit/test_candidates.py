"""build_offer: which index files are candidates on a target, the best per
version, and the reason each rejected file gets."""

from __future__ import annotations

from packaging.tags import Tag
from packaging.utils import NormalizedName
from packaging.version import Version

from bundler.index.simple_api import Link, make_link
from bundler.resolve.candidates import (
    Candidate,
    Offer,
    Rejection,
    build_offer,
    python_ok,
    tag_ranks,
)
from bundler.target.model import Cuda, Target
from tests.helpers.targets import TAGS, make_target

T4 = Cuda("12.4", "12.4", ("7.5",))


def _link(filename: str, *, requires_python: str | None = None, yanked: str | None = None) -> Link:
    link = make_link(
        filename,
        f"https://index.invalid/files/{filename}",
        requires_python=requires_python,
        yanked=yanked,
    )
    assert link is not None, filename
    return link


def _offer(
    name: str, links: list[Link], target: Target | None = None, *, may_build: bool = False
) -> Offer:
    target = target or make_target()
    return build_offer(
        NormalizedName(name), links, target, tag_ranks(target.tags), may_build=may_build
    )


def _chosen(offer: Offer) -> list[str]:
    return [c.link.filename for c in offer.candidates if c.link is not None]


def test_the_best_tagged_wheel_per_version_newest_first() -> None:
    any_ = _link("pkg-1.0-py3-none-any.whl")
    old_linux = _link("pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
    new_linux = _link("pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl")
    two = _link("pkg-2.0-py3-none-any.whl")
    offer = _offer("pkg", [any_, old_linux, new_linux, two])
    assert offer == Offer(
        (
            Candidate(NormalizedName("pkg"), Version("2.0"), "wheel", two),
            Candidate(NormalizedName("pkg"), Version("1.0"), "wheel", new_linux),
        ),
        (),
        (),
    )


def test_files_of_another_project_are_ignored() -> None:
    assert _offer("pkg", [_link("other-1.0-py3-none-any.whl")]) == Offer((), (), ())


def test_a_wheel_for_other_tags_is_rejected_with_its_tags() -> None:
    link = _link("pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert _offer("pkg", [link]).rejected == (
        Rejection(
            link.filename,
            "no tag the target supports (cp311-cp311-manylinux_2_17_x86_64)",
            Version("1.0"),
            "tag",
        ),
    )


def test_a_file_for_another_python_is_rejected() -> None:
    link = _link("pkg-1.0-py3-none-any.whl", requires_python=">=3.13")
    assert _offer("pkg", [link]).rejected == (
        Rejection(
            link.filename,
            "requires Python >=3.13; the target has 3.12.1",
            Version("1.0"),
            "python",
        ),
    )


def test_an_sdist_needs_permission_to_build() -> None:
    sdist = _link("pkg-1.0.tar.gz")
    refused = _offer("pkg", [sdist])
    assert refused.candidates == ()
    assert refused.rejected == (
        Rejection(
            sdist.filename, "source only, and building is not allowed", Version("1.0"), "source"
        ),
    )
    allowed = _offer("pkg", [sdist], may_build=True)
    assert allowed.candidates == (Candidate(NormalizedName("pkg"), Version("1.0"), "sdist", sdist),)
    assert allowed.candidates[0].source == "build" and allowed.rejected == ()


def test_a_usable_wheel_wins_over_the_sdist_of_its_version() -> None:
    wheel, sdist = _link("pkg-1.0-py3-none-any.whl"), _link("pkg-1.0.tar.gz")
    offer = _offer("pkg", [sdist, wheel], may_build=True)
    assert _chosen(offer) == [wheel.filename] and offer.rejected == ()


def test_yanked_files_are_kept_apart() -> None:
    yanked = _link("pkg-2.0-py3-none-any.whl", yanked="broken build")
    good = _link("pkg-1.0-py3-none-any.whl")
    offer = _offer("pkg", [yanked, good])
    assert _chosen(offer) == [good.filename]
    assert offer.yanked == (Candidate(NormalizedName("pkg"), Version("2.0"), "wheel", yanked),)
    assert offer.rejected == (
        Rejection(yanked.filename, "yanked (broken build)", Version("2.0"), "yanked"),
    )
    (no_reason,) = _offer("pkg", [_link("pkg-3.0-py3-none-any.whl", yanked="")]).rejected
    assert no_reason.reason == "yanked (no reason given)"


def test_a_version_with_a_good_file_is_not_yanked() -> None:
    # PEP 592 yanks files: a yanked sdist beside a good wheel leaves the version offered.
    yanked = _link("pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", yanked="")
    good = _link("pkg-1.0-py3-none-any.whl")
    offer = _offer("pkg", [yanked, good])
    assert _chosen(offer) == [good.filename]
    assert offer.yanked == () and offer.rejected == ()


def test_a_project_named_for_a_cuda_major_the_driver_cannot_run() -> None:
    link = _link("nvidia_cublas_cu13-13.0.0-py3-none-any.whl")
    assert _offer("nvidia-cublas-cu13", [link], make_target(cuda=T4)).rejected == (
        Rejection(
            link.filename,
            "nvidia-cublas-cu13 is built for CUDA 13, which the target's driver (CUDA 12.4) "
            "cannot run",
            Version("13.0.0"),
            "cuda",
        ),
    )
    # On a CPU target CUDA libraries are inert files: not refused.
    assert _chosen(_offer("nvidia-cublas-cu13", [link])) == [link.filename]


def test_cuda_variants_the_driver_runs_closest_to_the_runtime_first() -> None:
    links = [
        _link(f"llama_cpp_python-0.3.0+{v}-cp312-cp312-manylinux_2_17_x86_64.whl")
        for v in ("cu118", "cu121", "cu124", "cu126", "cu130", "cpu")
    ]
    offer = _offer("llama-cpp-python", links, make_target(cuda=T4))
    # At or below the runtime (closest first), then above it (closest first), then cpu.
    assert [str(c.version) for c in offer.candidates] == [
        "0.3.0+cu124",
        "0.3.0+cu121",
        "0.3.0+cu118",
        "0.3.0+cu126",
        "0.3.0+cpu",
    ]
    assert offer.rejected == (
        Rejection(
            links[4].filename,
            "built for cu130, which the target's driver (CUDA 12.4) cannot run",
            Version("0.3.0+cu130"),
            "cuda",
        ),
    )


def test_a_cpu_target_prefers_the_cpu_variant() -> None:
    links = [
        _link(f"llama_cpp_python-0.3.0+{v}-cp312-cp312-manylinux_2_17_x86_64.whl")
        for v in ("cu124", "cpu")
    ]
    offer = _offer("llama-cpp-python", links)
    assert [str(c.version) for c in offer.candidates] == ["0.3.0+cpu", "0.3.0+cu124"]


def test_python_ok() -> None:
    target = make_target()
    assert python_ok(None, target) is True and python_ok("", target) is True
    assert python_ok(">=3.10,<4", target) is True
    assert python_ok("<3.12", target) is False
    assert python_ok("not a specifier", target) is None  # unparseable: not a rejection


def test_an_unparseable_requires_python_is_not_a_rejection() -> None:
    link = _link("pkg-1.0-py3-none-any.whl", requires_python=">=3.6.*")
    assert _chosen(_offer("pkg", [link])) == [link.filename]


def test_tag_ranks_keep_the_first_position() -> None:
    ranks = tag_ranks((*TAGS, TAGS[0]))
    assert ranks[TAGS[0]] == 0 and ranks[Tag("py3", "none", "any")] == len(TAGS) - 1
