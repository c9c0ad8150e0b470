"""q1: which recurrent cell, loss, optimizer and dropout forecast GOOG and AAPL best?

    python studies/q1.py                      # the report's full grid, embedded data
    python studies/q1.py --smoke-test         # seconds
    python studies/q1.py --search optuna --num-samples 40
    python studies/q1.py --data prices/ --start 2010-01-01 --end 2018-12-31
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray import tune

from studies import common
from trainables.common import metrics as M
from trainables.common.config import ConfigError, to_dict
from trainables.common.errors import DataError
from trainables.stock.config import CELLS, LOSSES, OPTIMIZERS, StockConfig
from trainables.stock.data import EMBEDDED, load_prices, split_sizes
from trainables.stock.trainable import train_stock

METRIC, MODE = M.VAL_MAPE, "min"  # scale-free, so comparable across losses and tickers

GRID = {"cell": list(CELLS), "loss": list(LOSSES), "optimizer": list(OPTIMIZERS), "dropout": [0.0, 0.1]}


def grid_space(args) -> dict:
    space = {k: tune.grid_search(v) for k, v in GRID.items()}
    space["seed"] = tune.grid_search(list(range(args.seeds)))
    return space


def optuna_space(args) -> dict:
    return {
        "cell": tune.choice(list(CELLS)),
        "lr": tune.loguniform(1e-4, 1e-2),
        "hidden_size": tune.choice([16, 32, 64, 128]),
        "num_layers": tune.choice([1, 2, 3]),
        "dropout": tune.uniform(0.0, 0.3),
        "window": tune.choice([10, 20, 30, 60]),
        "seed": 0,
    }


def smoke_space(args) -> dict:
    return {"cell": tune.grid_search(list(CELLS)), "hidden_size": 8, "seed": 0}


def build_parser():
    p = common.base_parser(__doc__.splitlines()[0], default_name="q1")
    g = p.add_argument_group("data")
    g.add_argument("--data", default=EMBEDDED,
                   help="'embedded' (offline sample prices), 'yahoo' (download), a folder of TICKER.csv "
                        "Yahoo exports, or one CSV with columns date,ticker,close")
    g.add_argument("--tickers", default="GOOG,AAPL", help="comma-separated tickers, predicted jointly")
    g.add_argument("--start", default=None, help="first date (YYYY-MM-DD)")
    g.add_argument("--end", default=None, help="last date (YYYY-MM-DD)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=100)
    g.add_argument("--batch-size", type=int, default=StockConfig.batch_size)
    g.add_argument("--window", type=int, default=30, help="past days per input (optuna also searches it)")
    g.add_argument("--features", default="close",
                   help="price fields per ticker; 'all' feeds open,high,low,close,adj_close,volume")
    return p


def fixed_config(args) -> dict:
    """Values shared by every trial; validated once here, before Ray starts."""
    features = ["open", "high", "low", "close", "adj_close", "volume"] if args.features == "all" else args.features.split(",")
    fixed = {"epochs": 2 if args.smoke_test else args.epochs, "batch_size": args.batch_size,
             "window": args.window, "features": features, **common.trial_options(args)}
    try:
        StockConfig(**fixed)
    except (ConfigError, TypeError) as exc:
        common.fail(str(exc))
    return fixed


def load_data(args, fixed: dict):
    tickers = tuple(t.strip() for t in args.tickers.split(",") if t.strip())
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prices = load_prices(args.data, tickers, args.start, args.end)
        for w in caught:
            print(f"note: {w.message}")
        longest = max([fixed["window"]] + ([60] if args.search == "optuna" else []))
        split_sizes(len(prices), StockConfig(**{**fixed, "window": longest}))
    except DataError as exc:
        common.fail(str(exc))
    return prices


def main(argv: list[str] | None = None) -> tune.ResultGrid:
    args = build_parser().parse_args(argv)
    common.check_common_args(args)
    fixed = fixed_config(args)
    prices = load_data(args, fixed)
    print(f"q1: {len(prices)} days of {args.tickers} from {prices.index[0].date()} to {prices.index[-1].date()}")
    trainable = tune.with_parameters(train_stock, prices=prices)

    space = smoke_space(args) if args.smoke_test else grid_space(args) if args.search == "grid" else optuna_space(args)
    tune_config = common.tune_config(args, METRIC, MODE, max_t=fixed["epochs"], grace_period=10)
    # Every trial records its whole config, defaults included, for analysis and reruns.
    space = {**to_dict(StockConfig(**fixed)), **space}
    path = common.run_dir(args)
    common.write_study_file(path, {"study": "q1", "search": "smoke" if args.smoke_test else args.search,
                                   "argv": sys.argv, "tickers": args.tickers, "data": args.data})
    results = common.run_study(args, trainable, space, tune_config)
    report(path, prices)
    return results


def report(path: str, prices) -> None:
    from analysis.report import finish_run

    if "://" not in path:
        prices.xs("close", axis=1, level="field").to_csv(Path(path, "prices.csv"))
    written = finish_run(path, data=prices)
    if written:
        print(f"Tables, plots, claims and report: {len(written)} files in {path}")


if __name__ == "__main__":
    main()
