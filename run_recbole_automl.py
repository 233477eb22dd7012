"""Command line of recbole-automl; RecBole's run_recbole.py for plugin and RecBole models.

Examples:
    python run_recbole_automl.py --model=BPR --dataset=ml-100k
    python run_recbole_automl.py --model=BPR --dataset=ml-100k --epochs=5 --learning_rate=0.01
    python run_recbole_automl.py --config_files="configs/a.yaml configs/b.yaml"
    python run_recbole_automl.py --model=NeuMF --dataset=ml-100k --search=hyper \
        --params_file=configs/hyper_neumf.yaml --search_trials=30 --workers=2

Any other ``--key=value`` is a RecBole config override, read by RecBole's ``Config``.
"""

import argparse
import sys

from recbole_automl import ConfigError, run_recbole_automl


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", "-m", type=str, default=None, help="model name")
    parser.add_argument("--dataset", "-d", type=str, default=None, help="dataset name")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated YAML files")
    parser.add_argument("--workers", type=int, default=None, help="search_workers: trials at once")
    args, _ = parser.parse_known_args()
    config_file_list = args.config_files.strip().split() if args.config_files else None
    config_dict = {"search_workers": args.workers} if args.workers else None
    try:
        run_recbole_automl(
            model=args.model,
            dataset=args.dataset,
            config_file_list=config_file_list,
            config_dict=config_dict,
        )
    except ConfigError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
