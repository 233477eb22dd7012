"""LambdaOptBPRTrainer: trains MF-BPR while learning its L2 coefficients on validation data.

Each training step (Chen et al., KDD 2019), in RecBole's training loop:

1. the gradient of the training BPR loss without the penalty;
2. the optimizer's next embeddings, simulated as a differentiable function of the
   coefficients: the penalty's gradient (a function of the coefficients) is added and the
   step replayed as the optimizer takes it (SGD; or Adam with its current moment estimates
   and step count, AMSGrad's maximum if set; the optimizer's ``weight_decay`` too). The
   penalty there is the batch's rows divided by the batch size, as in the real step
   (``lambda_simulated_penalty: batch``), or, as the original code does, ``2 lambda theta``
   over every row of both tables (``tables``);
3. the BPR loss of a validation batch at the simulated embeddings; one step of the
   coefficients only (Adam with AMSGrad, ``lambda_learning_rate``), clamped at zero;
4. the real step: BPR plus the penalty with the new coefficients (RecBole's optimizer).

The validation batches come from a random ``lambda_valid_ratio`` of the validation
interactions; early stopping and model selection use the validation metric on the rest
(selecting on the interactions the coefficients were fitted to would reward that fit). The
test split is only used by whoever calls ``evaluate``. Each validation is a trial of the
search core (journal, checkpoint, resume). At the end, ``coefficients.png`` shows the mean
learned coefficient against user and item frequency, and ``search_summary`` their Spearman
correlation and the mean coefficients after each epoch.
"""

import os

import numpy as np
import torch
from scipy.stats import spearmanr

from recbole_automl.methods.searching import search_folder
from recbole_automl.search import plot_weights
from recbole_automl.search.report import plot_against_frequency
from recbole_automl.trainer.one_shot import OneShotTrainer, split_validation, validation_batches


class LambdaOptBPRTrainer(OneShotTrainer):
    """RecBole ``Trainer`` for :class:`LambdaOptBPR`: learns the coefficients as it trains."""

    def __init__(self, config, model):
        # epochs is the budget: a rerun with more resumes the same run.
        folder = search_folder(config, f"LambdaOptBPR-{config['dataset']}", ("epochs",))
        super().__init__(config, model, folder)
        self.optimizer = self._build_optimizer(params=model.embedding_parameters())
        self.lambda_optimizer = None
        if model.learned:  # learner is adam or sgd (LambdaOptBPR.checks.yaml): simulated
            self.lambda_optimizer = torch.optim.Adam(
                model.lambda_parameters(), lr=config["lambda_learning_rate"], amsgrad=True
            )
        self.valid_batches = None
        self.search_summary = None

    def optimizers(self):
        optimizers = {"optimizer": self.optimizer}
        if self.lambda_optimizer is not None:
            optimizers["lambda_optimizer"] = self.lambda_optimizer
        return optimizers

    def point(self):
        """The mean coefficient of each side now."""
        means = {}
        for side, tensor in (("user", self.model.user_lambda), ("item", self.model.item_lambda)):
            if tensor is not None:
                means[side] = float(tensor.detach().mean())
        return {"lambda": means}

    def selection_data(self, train_data, valid_data):
        """With learned coefficients: they learn on a part of the validation split, and the
        model is selected (early stopping) on the rest: selecting on the part they were
        fitted to rewards them for fitting it (with DUI, valid NDCG@10 0.69 vs test 0.25)."""
        if not self.model.learned:
            return valid_data
        ratio = self.config["lambda_valid_ratio"]
        part, selection = split_validation(self.config, valid_data, ratio)
        self.valid_batches = validation_batches(self.config, train_data, valid_data, part)
        return selection

    def after_search(self, train_data):
        if self.model.learned and self.trials:
            plot_weights(self.trials, os.path.join(self.folder, "lambda.png"), key="lambda",
                         ylabel="mean coefficient")  # fmt: skip
            self._report_coefficients(train_data._dataset)

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        if self.model.learned:
            loss_func = self._learn_lambda_then_loss
        return super()._train_epoch(train_data, epoch_idx, loss_func, show_progress)

    def _learn_lambda_then_loss(self, interaction):
        """Steps 1-3 above; returns the loss of step 4, which RecBole's loop steps on."""
        model, tables = self.model, self.model.embedding_parameters()
        grads = torch.autograd.grad(model.bpr_loss(interaction), tables)
        if self.config["lambda_simulated_penalty"] == "tables":
            penalty_grads = model.table_penalty_gradients()
        else:
            penalty_grads = torch.autograd.grad(
                model.penalty(interaction), tables, create_graph=True, allow_unused=True
            )
        steps = [g if pg is None else g + pg for g, pg in zip(grads, penalty_grads)]
        simulated = self._simulated_step(tables, steps)
        self.lambda_optimizer.zero_grad()
        valid_batch = next(self.valid_batches).to(self.device)
        model.bpr_loss(valid_batch, *simulated).backward(inputs=model.lambda_parameters())
        self.lambda_optimizer.step()
        model.clamp_lambda()
        return model.calculate_loss(interaction)

    def _simulated_step(self, params, grads):
        """The optimizer's next ``params`` as a differentiable function of ``grads``."""
        group = self.optimizer.param_groups[0]
        lr, decay = group["lr"], group["weight_decay"]
        grads = [g + decay * p.detach() if decay else g for p, g in zip(params, grads)]
        if self.learner.lower() == "sgd":
            return [p.detach() - lr * g for p, g in zip(params, grads)]
        beta1, beta2 = group["betas"]
        simulated = []
        for p, g in zip(params, grads):
            state = self.optimizer.state.get(p) or {}
            step = float(state["step"]) + 1 if state else 1.0
            m = state["exp_avg"] if state else torch.zeros_like(p)
            v = state["exp_avg_sq"] if state else torch.zeros_like(p)
            m_hat = (beta1 * m + (1 - beta1) * g) / (1 - beta1**step)
            v = beta2 * v + (1 - beta2) * g * g
            if group["amsgrad"]:  # the largest second moment so far
                v = torch.maximum(state["max_exp_avg_sq"], v) if state else v
            v_hat = v / (1 - beta2**step)
            # The clamp keeps the square root's derivative finite where v is 0 (far below eps).
            denominator = v_hat.clamp_min(1e-30).sqrt() + group["eps"]
            simulated.append(p.detach() - lr * m_hat / denominator)
        return simulated

    def _report_coefficients(self, train_dataset):
        """Mean coefficient per user / item against its training frequency: PNG + Spearman."""
        model, series, correlation = self.model, {}, {}
        sides = {
            "user": (model.user_lambda, model.USER_ID, model.n_users),
            "item": (model.item_lambda, model.ITEM_ID, model.n_items),
        }
        for side, (tensor, field, size) in sides.items():
            if tensor is None or tensor.shape[0] == 1:
                continue  # not per user / item
            counts = np.bincount(train_dataset.inter_feat[field].numpy(), minlength=size)
            values = tensor.detach().mean(dim=1).cpu().numpy()
            seen = counts > 0  # id 0 is RecBole's padding
            series[side + "s"] = (counts[seen], values[seen])
            correlation[side] = float(spearmanr(counts[seen], values[seen]).statistic)
        if series:
            plot_against_frequency(series, os.path.join(self.folder, "coefficients.png"))
        self.search_summary = {
            "lambda": self.point()["lambda"],
            "frequency_spearman": correlation,
            # The mean coefficients after each epoch (the trajectory of ``lambda.png``).
            "lambda_curve": [trial.point["lambda"] for trial in self.trials],
        }
        self.logger.info(
            f"LambdaOptBPR coefficients: means {self.search_summary['lambda']}, Spearman "
            f"correlation with frequency {correlation} (in {self.folder})"
        )
