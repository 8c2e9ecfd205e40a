"""Great Expectations Data Docs for quality runs, without a GE project on disk.

``build_data_docs(report.ge_result, site_dir=..., run_id=...)`` renders one run's
``ExpectationSuiteValidationResult`` (``quality.validate.ValidationReport.ge_result``) with GE's
own site builder (``SiteBuilder``: ``ValidationResultsPageRenderer`` + ``DefaultJinjaPageView``,
``DefaultSiteIndexBuilder``) from an ephemeral DataContext whose only persistent parts are in
``site_dir``::

    site_dir/
      index.html                                          every run (GE's index page)
      validations/<dataset>/<run_id>/<run_time>/<batch>.html   one page per run (returned)
      results/<dataset>/<run_id>/<run_time>/<batch>.json       GE's validations store
      static/                                             GE's CSS, fonts, images

``<dataset>`` is the suite name (the spec's ``name``; a dot in it would nest directories),
``<run_time>`` is GE's ``RunIdentifier`` time (the batch load time, UTC, ``%Y%m%dT%H%M%S.%fZ``),
``<batch>`` GE's batch id (``staged-batch``).

How it is built, and why:

* ``results/`` is the index's source of truth. GE's index builder deletes every page whose
  result is not in the validations store (``skip_and_clean_missing``, not configurable through
  ``build_data_docs``), so an in-memory store would wipe earlier runs' pages at each build.
  Deleting a run's JSON there drops its page at the next build.
* Only the new run's page is rendered (``resource_identifiers=[key]``); the index is rebuilt
  each time and reads every stored result: measured ~0.1 s for a 13-expectation result on an
  empty site, +~1 ms per stored run (0.38 s with 300 runs). GE's import (~2.3 s) comes on
  top if nothing imported GE before (``validate_parquet`` already has).
* Idempotent: rebuilding a ``run_id`` replaces that dataset's page for it (an earlier result
  stored under the same run_id with another run time is removed first).
* Builds into one ``site_dir`` are serialised with an ``flock`` on ``site_dir/.build.lock``: a
  concurrent index build would otherwise delete a page whose result it had not yet seen.
* GE's site builder logs rendering exceptions instead of raising them; they are caught here and
  raised as ``DataDocsError`` (the run's result is then not kept). One seen: GE's page title
  parses the run name as a date and catches only ValueError, so a long digit string
  (``"9" * 20``) fails with OverflowError.
* GE's default run-name filter hides runs whose name contains "profiling"; it is replaced.
* Unexpected values are masked before GE sees them (``pii_columns``), in the pages and in
  ``results/``: ``BASIC`` results carry up to 20 raw unexpected values per column expectation
  (e.g. duplicated 身份证号).
* GE shows an expectation's ``description`` instead of its type; each description is prefixed
  with its ``rule`` (``primary_key: primary key (id_card_no) repeats``) so a page row can be
  matched with ``ValidationReport.result(rule)`` and the stored quality tables.

Pages open from disk (``file://``), but GE's templates load Bootstrap, jQuery, bootstrap-table
and Font Awesome from public CDNs: offline, run pages are readable unstyled (no status icons)
and ``index.html``'s run table, drawn by bootstrap-table, stays empty. The run page's
"Expectation Suite" link points to ``expectations/<dataset>.html``, which is not built (no
suite pages: the suite is not stored).

GE is imported inside ``build_data_docs`` only: importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from schemas.errors import MuluError

SITE_NAME = "mulu"
PAGES_DIR = "validations"  # GE's HtmlSiteStore prefix for validation result pages
RESULTS_DIR = "results"  # GE's validations store (JSON): what the index lists
LOCK_FILE = ".build.lock"
# ExpectationValidationResult.result entries that hold data values (BASIC .. COMPLETE).
_VALUE_LISTS = (
    "partial_unexpected_list",
    "unexpected_list",
    "partial_unexpected_index_list",
    "unexpected_index_list",
)
_COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")


class DataDocsError(MuluError):
    """GE could not render the run's page or the site index."""


def build_data_docs(
    ge_result: Any, *, site_dir: Path, run_id: str, pii_columns: Collection[str] | None = None
) -> Path:
    """Render one run's GE validation result as Data Docs under site_dir; return the path of
    that run's HTML page.

    ``ge_result``: GE's ``ExpectationSuiteValidationResult`` (``ValidationReport.ge_result``);
    it is not modified. ``run_id``: GE's run name, one path component (no ``/`` or ``\\``).
    The page is ``site_dir/validations/<dataset>/<run_id>/<run_time>/<batch>.html``; runs
    accumulate in ``site_dir/index.html``.

    ``pii_columns``: columns whose values are masked (first 3 and last 2 characters kept, as in
    ``ValidationReport`` samples) wherever the result holds data values (unexpected value lists
    and counts, string observed values). ``None`` (default) masks every column's values; pass
    ``{c.name for c in spec.columns if c.pii}`` to show the others.

    Takes ~0.1 s for a 13-expectation result (+~1 ms per run already in the site: the index
    is rebuilt), plus the GE import (~2.3 s) when GE is not imported yet.
    """
    _check_run_id(run_id)
    site_dir = Path(site_dir).resolve()
    site_dir.mkdir(parents=True, exist_ok=True)

    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    result = _prepared(ge_result, None if pii_columns is None else set(pii_columns))
    suite = result.suite_name or "suite"
    run = RunIdentifier(run_name=run_id, run_time=_run_time(result))
    result.meta["run_id"] = run.to_json_dict()  # shown as Run Name / Run Time on the page
    key = ValidationResultIdentifier(
        ExpectationSuiteIdentifier(name=suite), run, result.batch_id or "batch"
    )
    *folders, name = key.to_tuple()
    page = site_dir.joinpath(PAGES_DIR, *folders, f"{name}.html")

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(),
    )
    config.stores[config.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(site_dir / RESULTS_DIR),
            "suppress_store_backend_id": True,
        },
    }
    config.data_docs_sites = {
        SITE_NAME: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(site_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "site_section_builders": {
                # no suite pages (suites are not stored) and no profiling section
                "expectations": "0",
                "profiling": "0",
                # GE's default filter drops run names containing "profiling"
                "validations": {"run_name_filter": {"matches_regex": "^"}},
            },
        }
    }
    context = gx.get_context(mode="ephemeral", project_config=config)
    store = context.stores[context.validation_results_store_name]

    with _locked(site_dir), _ge_errors() as errors:
        replaced = [
            old
            for old in store.list_keys()  # the same run stored with another time
            if old.expectation_suite_identifier.name == suite
            and old.run_id.run_name == run_id
            and old.to_tuple() != key.to_tuple()
        ]
        for old in replaced:
            store.remove_key(old)
        page.unlink(missing_ok=True)
        store.set(key, result)
        # renders this run's page; the index build also deletes the replaced runs' pages
        try:
            context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[key])
        except Exception:
            store.remove_key(key)
            raise
        failed = bool(errors) or not page.is_file()
        if failed:  # no result without its page in results/
            store.remove_key(key)
            replaced.append(key)
        for old in replaced:  # GE leaves their (empty) folders behind
            for tree in (RESULTS_DIR, PAGES_DIR):
                _prune(site_dir.joinpath(tree, *old.to_tuple()[:-1]), site_dir / tree)
    if failed:
        detail = _summary(errors[0]) if errors else f"no page written at {page}"
        raise DataDocsError(f"Data Docs for run {run_id!r} ({suite}): {detail}")
    return page


# --- helpers -------------------------------------------------------------------------------
def _check_run_id(run_id: str) -> None:
    if (
        not isinstance(run_id, str)
        or run_id.strip() in ("", ".", "..")
        or any(c in run_id for c in "/\\")
    ):
        raise ValueError(f"run_id must be one path component (no '/' or '\\'): {run_id!r}")


def _run_time(result: Any) -> dt.datetime:
    """When the batch was read (GE's batch marker), so rebuilding the same result gives the same
    key; now when the result has none."""
    marker = (result.meta.get("batch_markers") or {}).get("ge_load_time")
    try:
        return dt.datetime.strptime(str(marker), "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:  # no marker ("None"), or not GE's format
        return dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def _locked(site_dir: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(site_dir / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _ge_errors() -> Iterator[list[str]]:
    """Error messages GE's site builder logs (it catches rendering exceptions)."""
    handler = _Collect()
    logger = logging.getLogger("great_expectations.render.renderer.site_builder")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def _summary(message: str) -> str:
    """The exception in GE's 'An unexpected Exception occurred during data docs rendering ...
    Detailed information follows: <Type>: "<message>".  Traceback: ...' log message."""
    detail = message.partition("Detailed information follows:")[2] or message
    return detail.partition(".  Traceback:")[0].strip()


def _prune(folder: Path, stop: Path) -> None:
    """Remove empty folders from ``folder`` up to ``stop`` (excluded)."""
    while (
        folder != stop and stop in folder.parents and folder.is_dir() and not any(folder.iterdir())
    ):
        folder.rmdir()
        folder = folder.parent


def _mask(value: Any) -> Any:
    """As ``quality.validate`` masks sample values: first 3 and last 2 characters."""
    if value is None:
        return None
    text = str(value)
    return text[:3] + "*" * (len(text) - 5) + text[-2:] if len(text) > 6 else "***"


def _mask_value(value: Any, sensitive: bool, hidden) -> Any:
    if isinstance(value, dict):  # a row: {column: value}
        return {k: _mask(v) if hidden(k) else v for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value] if sensitive else list(value)
    return _mask(value) if sensitive else value


def _prepared(ge_result: Any, pii: set[str] | None) -> Any:
    """A deep copy of ``ge_result`` for the pages: the data values of ``pii`` columns (all when
    None) masked, and each description prefixed with its ``rule`` (``meta["rule"]``, the name
    in ``ValidationReport`` and the stored quality tables; GE shows the description in place
    of the expectation)."""
    result = copy.deepcopy(ge_result)

    def hidden(column: Any) -> bool:
        return pii is None or column in pii

    for evr in result.results:
        config = evr.expectation_config
        kwargs = dict(config.kwargs) if config else {}
        rule = (config.meta or {}).get("rule") if config else None
        if rule and config.description and not config.description.startswith(f"{rule}: "):
            config.description = f"{rule}: {config.description}"
        columns = []
        for name in _COLUMN_KWARGS:
            value = kwargs.get(name)
            columns += value if isinstance(value, list) else [] if value is None else [value]
        sensitive = pii is None or any(c in pii for c in columns)
        got = evr.result
        if not got:
            continue
        for name in _VALUE_LISTS:
            if isinstance(got.get(name), list):
                got[name] = [_mask_value(v, sensitive, hidden) for v in got[name]]
        if isinstance(got.get("partial_unexpected_counts"), list):
            got["partial_unexpected_counts"] = [
                {**item, "value": _mask_value(item.get("value"), sensitive, hidden)}
                if isinstance(item, dict)
                else item
                for item in got["partial_unexpected_counts"]
            ]
        details = got.get("details")
        if isinstance(details, dict) and isinstance(details.get("unexpected_rows"), list):
            details["unexpected_rows"] = [
                _mask_value(row, pii is None, hidden) for row in details["unexpected_rows"]
            ]
        if sensitive and columns and isinstance(got.get("observed_value"), str):
            got["observed_value"] = _mask(got["observed_value"])
    return result
