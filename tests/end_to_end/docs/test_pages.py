"""Every ```python block of the documentation runs, in page order, against a local deployment.

Sybil parses the pages: a plain block is executed, a block of ``>>>`` lines is a doctest whose
printed outputs must match. The blocks of one page share one namespace, which starts with
``client`` (a FrameworkClient for the ``synthetic`` datastack), ``server_address`` and ``token``,
the values ``dafclient serve`` prints. A block after ``<!-- skip: next -->`` is shown, not run
(e.g. code that needs a real remote deployment); shell commands use a ``bash`` fence.
"""

from __future__ import annotations

import doctest
from collections.abc import Callable
from pathlib import Path

import pytest
from sybil import Document, Example, Sybil
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

from dafclient import FrameworkClient
from dafserver.runner import LocalServer
from dafserver.seed import DATASTACK
from tests.paths import REPO

DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
PARSER = Sybil(
    parsers=[
        PythonCodeBlockParser(doctest_optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE),
        SkipParser(),
    ],
    path=str(DOCS),
)


def _fence_start(document: Document, example: Example) -> int:
    """Where the block holding ``example`` starts: its fence, or the HTML comment of an
    invisible block (a doctest block yields one example per ``>>>`` statement)."""
    end = example.start + 1
    return max(document.text.rfind("```", 0, end), document.text.rfind("<!--", 0, end))


def run_page(document: Document) -> tuple[int, int]:
    """Evaluate the page's examples in order; the numbers of code blocks run and skipped."""
    ran: set[int] = set()
    skipped: set[int] = set()
    for example in document:
        is_code = not isinstance(example.region.evaluator, Skipper)
        if is_code and any(isinstance(e, Skipper) for e in document.evaluators):
            skipped.add(_fence_start(document, example))
        elif is_code:
            ran.add(_fence_start(document, example))
        example.evaluate()
    return len(ran), len(skipped)


def _has_examples(page: Path) -> bool:
    return any(True for _ in PARSER.parse(page))


PAGES_WITH_EXAMPLES = [page for page in PAGES if _has_examples(page)]


def _ids(pages: list[Path]) -> list[str]:
    return [str(page.relative_to(DOCS)) for page in pages]


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=_ids(PAGES_WITH_EXAMPLES))
def test_page_examples_run(
    page: Path,
    page_server: LocalServer,
    record_property: Callable[[str, object], None],
    close_clients_made: list[FrameworkClient],
) -> None:
    """Every Python block of ``page`` runs; the clients it makes and leaves open, as a notebook
    would, are closed afterwards."""
    document = PARSER.parse(page)
    with FrameworkClient(
        DATASTACK, server_address=page_server.base_url, auth_token=page_server.admin_token
    ) as client:
        document.namespace.update(
            client=client, server_address=page_server.base_url, token=page_server.admin_token
        )
        ran, skipped = run_page(document)
    record_property("doc_blocks_ran", ran)
    record_property("doc_blocks_skipped", skipped)
    assert ran, f"{page.name}: every Python block is marked not to run"


def test_pages_without_examples_have_no_python_blocks() -> None:
    """A page the parser finds no example on has no ```python block it could have missed (a
    typo in the fence or a block the parser cannot read)."""
    quiet = [page for page in PAGES if page not in PAGES_WITH_EXAMPLES]
    assert all("```python" not in page.read_text(encoding="utf-8") for page in quiet)
    assert len(PAGES_WITH_EXAMPLES) >= 15
