"""Write tests/test_data/tiny/: ml-100k cut to users <= 60 and items <= 150 (with the
knowledge graph's links of those items and up to 10 triples whose head is one of them).

Users left with more than MAX_PER_USER interactions are dropped: a user who rated
every item leaves RecBole's negative sampler nothing to sample.

Run once with RecBole installed; the output is committed so tests need no network.
"""

import os

import pandas as pd
import recbole

SOURCE = os.path.join(os.path.dirname(recbole.__file__), "dataset_example", "ml-100k")
TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny")
MAX_USER, MAX_ITEM, MAX_PER_USER = 60, 150, 100


def _read(suffix):
    return pd.read_csv(os.path.join(SOURCE, f"ml-100k.{suffix}"), sep="\t", dtype=str)


def _write(frame, suffix):
    frame.to_csv(os.path.join(TARGET, f"tiny.{suffix}"), sep="\t", index=False)


if __name__ == "__main__":
    os.makedirs(TARGET, exist_ok=True)
    inter = _read("inter")
    users, items = inter["user_id:token"].astype(int), inter["item_id:token"].astype(int)
    inter = inter[(users <= MAX_USER) & (items <= MAX_ITEM)]
    counts = inter.groupby("user_id:token")["item_id:token"].transform("size")
    inter = inter[counts <= MAX_PER_USER]
    _write(inter, "inter")
    user = _read("user")
    _write(user[user["user_id:token"].isin(inter["user_id:token"])], "user")
    item = _read("item")
    _write(item[item["item_id:token"].astype(int) <= MAX_ITEM], "item")
    link = _read("link")
    link = link[link["item_id:token"].astype(int) <= MAX_ITEM]
    _write(link, "link")
    kg = _read("kg")
    kg = kg[kg["head_id:token"].isin(link["entity_id:token"])]
    _write(kg.groupby("head_id:token", sort=False).head(10), "kg")
