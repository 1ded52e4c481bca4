"""The four mixed-type UCI benchmarks: file identities, parsers, schemas and semantic groups.

Every file is the original UCI file (sha256 from the project's data manifest). Parsed tables are
cached within the process (keyed by path, size and mtime), so loading a dataset twice with
different subsamples reads the files once.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .files import DataError, DataFile, fetch, file_record
from .tabular import RawTable, TabularDataset, build_tabular

UCI = "https://archive.ics.uci.edu/static/public"
LICENSE = "CC BY 4.0 (UCI Machine Learning Repository)"

ADULT_COLUMNS = [
    ("age", "numeric"), ("workclass", "categorical"), ("fnlwgt", "numeric"),
    ("education", "categorical"), ("education-num", "numeric"),
    ("marital-status", "categorical"), ("occupation", "categorical"),
    ("relationship", "categorical"), ("race", "categorical"), ("sex", "categorical"),
    ("capital-gain", "numeric"), ("capital-loss", "numeric"), ("hours-per-week", "numeric"),
    ("native-country", "categorical"),
]
GERMAN_COLUMNS = [
    ("checking_status", "categorical"), ("duration", "numeric"),
    ("credit_history", "categorical"), ("purpose", "categorical"),
    ("credit_amount", "numeric"), ("savings", "categorical"),
    ("employment_since", "categorical"), ("installment_rate", "numeric"),
    ("personal_status_sex", "categorical"), ("other_debtors", "categorical"),
    ("residence_since", "numeric"), ("property", "categorical"), ("age", "numeric"),
    ("other_installment_plans", "categorical"), ("housing", "categorical"),
    ("existing_credits", "numeric"), ("job", "categorical"), ("num_dependents", "numeric"),
    ("telephone", "categorical"), ("foreign_worker", "categorical"),
]
BANK_COLUMNS = [
    ("age", "numeric"), ("job", "categorical"), ("marital", "categorical"),
    ("education", "categorical"), ("default", "categorical"), ("balance", "numeric"),
    ("housing", "categorical"), ("loan", "categorical"), ("contact", "categorical"),
    ("day", "numeric"), ("month", "categorical"), ("campaign", "numeric"),
    ("pdays", "numeric"), ("previous", "numeric"), ("poutcome", "categorical"),
]
_PAY = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
_BILL = [f"BILL_AMT{i}" for i in range(1, 7)]
_PAYAMT = [f"PAY_AMT{i}" for i in range(1, 7)]
CREDIT_COLUMNS = (
    [("LIMIT_BAL", "numeric"), ("SEX", "categorical"), ("EDUCATION", "categorical"),
     ("MARRIAGE", "categorical"), ("AGE", "numeric")]
    + [(c, "numeric") for c in _PAY + _BILL + _PAYAMT]
)


@dataclass(frozen=True)
class TabularSpec:
    """How to get and read one UCI dataset."""

    name: str
    files: tuple[DataFile, ...]
    columns: tuple[tuple[str, str], ...]
    groups: dict[str, list[str]]
    label_name: str
    citation: str
    notes: tuple[str, ...]
    parse: Callable[[list[Path]], RawTable]


def _strip(frame: pd.DataFrame, cols) -> pd.DataFrame:
    for c in cols:
        frame[c] = frame[c].astype(str).str.strip()
    return frame


def _parse_adult(paths: list[Path]) -> RawTable:
    names = [c for c, _ in ADULT_COLUMNS] + ["income"]
    parts = []
    for path, skip in zip(paths, (0, 1), strict=True):
        df = pd.read_csv(path, header=None, names=names, skipinitialspace=True, skiprows=skip,
                         dtype=str, keep_default_na=False)
        df = df[df["income"].str.strip() != ""]
        if df.shape[1] != 15 or df.isna().any().any():
            raise DataError(f"{path} does not have the Adult format (15 comma-separated fields)")
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    cats = [c for c, k in ADULT_COLUMNS if k == "categorical"]
    df = _strip(df, cats + ["income"])
    for c in cats:
        df[c] = df[c].replace("?", "missing")
    income = df.pop("income").str.rstrip(".")
    bad = ~income.isin(["<=50K", ">50K"])
    if bad.any():
        raise DataError(f"Adult: unexpected income value {income[bad].iloc[0]!r}")
    is_test = np.zeros(len(df), dtype=bool)
    is_test[len(parts[0]):] = True
    return RawTable(_numeric(df, ADULT_COLUMNS), (income == ">50K").to_numpy(np.int64), is_test)


def _numeric(df: pd.DataFrame, columns) -> pd.DataFrame:
    for c, kind in columns:
        if kind == "numeric":
            try:
                df[c] = pd.to_numeric(df[c]).astype(np.float64)
            except (ValueError, TypeError) as err:
                raise DataError(f"column {c!r} should be numeric: {err}") from err
        else:
            df[c] = df[c].astype(str)
    return df[[c for c, _ in columns]].reset_index(drop=True)


def _parse_german(paths: list[Path]) -> RawTable:
    names = [c for c, _ in GERMAN_COLUMNS] + ["credit_risk"]
    df = pd.read_csv(paths[0], sep=r"\s+", header=None, dtype=str)
    if df.shape[1] != 21:
        raise DataError(f"{paths[0]} has {df.shape[1]} fields per record, expected 21")
    df.columns = names
    risk = df.pop("credit_risk")
    if not risk.isin(["1", "2"]).all():
        raise DataError("German credit: label must be 1 (good) or 2 (bad)")
    return RawTable(_numeric(df, GERMAN_COLUMNS), (risk == "2").to_numpy(np.int64))


def _parse_bank(paths: list[Path]) -> RawTable:
    df = pd.read_csv(paths[0], sep=";", dtype=str)
    expected = [c for c, _ in BANK_COLUMNS] + ["duration", "y"]
    if sorted(df.columns) != sorted(expected):
        raise DataError(f"{paths[0]} has columns {list(df.columns)}, expected {expected}")
    y = df.pop("y")
    if not y.isin(["yes", "no"]).all():
        raise DataError("Bank marketing: label y must be yes/no")
    df = df.drop(columns=["duration"])
    return RawTable(_numeric(df, BANK_COLUMNS), (y == "yes").to_numpy(np.int64))


def _parse_credit(paths: list[Path]) -> RawTable:
    try:
        with warnings.catch_warnings():  # pandas deprecates its xlrd engine; .xls needs it
            warnings.simplefilter("ignore")
            df = pd.read_excel(paths[0], header=1, engine="xlrd")
    except ImportError as err:
        raise DataError("reading credit_default's .xls needs the xlrd package "
                        "(pip install 'xlrd>=2')") from err
    except Exception as err:  # xlrd raises its own errors on a corrupt workbook
        raise DataError(f"{paths[0]} is not a readable Excel 97-2003 workbook: {err}") from err
    label = "default payment next month"
    expected = ["ID"] + [c for c, _ in CREDIT_COLUMNS] + [label]
    if list(df.columns) != expected:
        raise DataError(f"{paths[0]} has columns {list(df.columns)}, expected {expected}")
    y = df.pop(label).to_numpy(np.int64)
    df = df.drop(columns=["ID"])
    for c, kind in CREDIT_COLUMNS:
        if kind == "categorical":
            df[c] = df[c].astype(np.int64).astype(str)
    return RawTable(_numeric(df, CREDIT_COLUMNS), y)


SPECS: dict[str, TabularSpec] = {
    "adult": TabularSpec(
        "adult",
        (
            DataFile("adult", "adult.data",
                     "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
                     3974305, f"{UCI}/2/adult.zip", ("adult.data",)),
            DataFile("adult", "adult.test",
                     "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
                     2003153, f"{UCI}/2/adult.zip", ("adult.test",)),
        ),
        tuple(ADULT_COLUMNS),
        {
            "demographics": ["age", "sex", "race", "native-country", "fnlwgt"],
            "education": ["education", "education-num"],
            "work": ["workclass", "occupation", "hours-per-week"],
            "capital": ["capital-gain", "capital-loss"],
            "household": ["relationship", "marital-status"],
        },
        "income>50K",
        "Becker, B. & Kohavi, R. (1996). Adult [Dataset]. UCI Machine Learning Repository.",
        ("'?' (workclass, occupation, native-country) is its own category 'missing'",
         "test labels' trailing '.' stripped; label 1 = income >50K"),
        _parse_adult,
    ),
    "bank_marketing": TabularSpec(
        "bank_marketing",
        (DataFile("bank_marketing", "bank-full.csv",
                  "d1513ec63b385506f7cfce9f2c5caa9fe99e7ba4e8c3fa264b3aaf0f849ed32d", 4610348,
                  f"{UCI}/222/bank+marketing.zip", ("bank.zip", "bank-full.csv")),),
        tuple(BANK_COLUMNS),
        {
            "client": ["age", "job", "marital", "education"],
            "finance": ["default", "balance", "housing", "loan"],
            "last_contact": ["contact", "day", "month"],
            "campaign_history": ["campaign", "pdays", "previous", "poutcome"],
        },
        "y",
        "Moro, S., Rita, P. & Cortez, P. (2014). Bank Marketing [Dataset]. UCI Machine Learning "
        "Repository.",
        ("'duration' dropped: it is known only after the call and leaks the label",
         "'unknown' kept as a category; pdays=-1 (not contacted) kept as a number",
         "label 1 = y 'yes'"),
        _parse_bank,
    ),
    "german_credit": TabularSpec(
        "german_credit",
        (DataFile("german_credit", "german.data",
                  "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871", 79793,
                  f"{UCI}/144/statlog+german+credit+data.zip", ("german.data",)),),
        tuple(GERMAN_COLUMNS),
        {
            "loan": ["duration", "credit_amount", "purpose", "installment_rate"],
            "assets": ["checking_status", "savings", "property"],
            "credit_history": ["credit_history", "existing_credits", "other_installment_plans",
                               "other_debtors"],
            "employment": ["employment_since", "job", "telephone"],
            "personal": ["personal_status_sex", "age", "num_dependents", "foreign_worker"],
            "housing": ["housing", "residence_since"],
        },
        "bad_credit",
        "Hofmann, H. (1994). Statlog (German Credit Data) [Dataset]. UCI Machine Learning "
        "Repository.",
        ("label 1 = bad credit (file code 2), 0 = good (code 1)",
         "categorical codes A11.. kept as category names"),
        _parse_german,
    ),
    "credit_default": TabularSpec(
        "credit_default",
        (DataFile("credit_default", "default_of_credit_card_clients.xls",
                  "30c6be3abd8dcfd3e6096c828bad8c2f011238620f5369220bd60cfc82700933", 5539328,
                  f"{UCI}/350/default+of+credit+card+clients.zip",
                  ("default of credit card clients.xls",)),),
        tuple(CREDIT_COLUMNS),
        {
            "demographics": ["SEX", "EDUCATION", "MARRIAGE", "AGE"],
            "credit_limit": ["LIMIT_BAL"],
            "repayment_status": _PAY,
            "bill_amounts": _BILL,
            "payment_amounts": _PAYAMT,
        },
        "default payment next month",
        "Yeh, I-C. & Lien, C-H. (2009). Expert Systems with Applications 36(2):2473-2480; "
        "Default of Credit Card Clients [Dataset], UCI Machine Learning Repository.",
        ("ID dropped",
         "undocumented codes EDUCATION 0/5/6 and MARRIAGE 0 kept as their own categories",
         "PAY_* repayment status treated as numeric (ordinal -2..8, undocumented -2/0 kept)"),
        _parse_credit,
    ),
}


@functools.lru_cache(maxsize=8)
def _parse_cached(name: str, key: tuple[tuple[str, int, int], ...]) -> RawTable:
    return SPECS[name].parse([Path(p) for p, _, _ in key])


def load_uci(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    download: bool = True,
    verify: bool = True,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
) -> TabularDataset:
    """Load one of :data:`SPECS` (see :func:`circuitvae.zoo.data.load_dataset`)."""
    spec = SPECS[name]
    found = fetch(name, spec.files, root=root, download=download, verify=verify)
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p, _, _ in found)
    raw = _parse_cached(name, key)
    provenance = {
        "source": "files",
        "files": [file_record(p, s, origin, verify) for p, s, origin in found],
        "citation": spec.citation,
        "license": LICENSE,
        "preprocessing": list(spec.notes) + [
            "numeric: standardized with train-split mean/std",
            "categorical: one-hot over train-split categories; unseen test category -> all-zero "
            "block",
        ],
    }
    return build_tabular(
        name, raw, dict(spec.columns), spec.groups, spec.label_name, provenance,
        seed=seed, n_train=n_train, n_test=n_test,
    )
