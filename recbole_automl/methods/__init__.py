"""How a RecBole config becomes a search of the core (:mod:`recbole_automl.search`).

``searching``: what every method's search reads from its config (budget, strategy,
scheduler, executor and folder by name) and the training of one trial with RecBole's
``Trainer``; ``hyper_search``: the hyper-parameter search of any model
(``search: hyper``); ``cross_search``: AutoCross's beam search over feature crosses.
"""
